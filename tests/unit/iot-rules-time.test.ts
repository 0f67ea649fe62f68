/**
 * parse_time() and time_to_epoch() of AWS IoT SQL ("Functions",
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html): Joda-Time
 * patterns (DateTimeFormat: G era, y/Y year, M month, d day, D day of year, E day name, e day
 * number from Monday, a half-day, H/k/h/K hours, m, s, S fraction, z zone name, Z offset or ZZZ
 * zone id, '…' literal text), zone ids from the tz database, Undefined for what cannot be read.
 * Cases found unguarded by the mutation run (docs/mutation.md).
 */
import { describe, expect, it } from '@jest/globals';

import { formatTime, parseTime } from '../../local/iot/rules/time';

/** 2023-11-14T22:13:20.123Z, a Tuesday. */
const T = 1_700_000_000_123;

describe('parse_time(pattern, millis, zone)', () => {
  it.each([
    ['G yyyy yy y Y', T, 'UTC', 'AD 2023 23 2023 2023'],
    ['M MM MMM MMMM', T, 'UTC', '11 11 Nov November'],
    ['d dd D DDD', T, 'UTC', '14 14 318 318'],
    ['E EEEE e', T, 'UTC', 'Tue Tuesday 2'],
    ['a H HH k h hh K m mm s ss', T, 'UTC', 'PM 22 22 22 10 10 10 13 13 20 20'],
    ['S SS SSS SSSS', T, 'UTC', '1 12 123 1230'],
    ['z zzzz', T, 'UTC', 'UTC UTC'],
    ['Z ZZ ZZZ', T, 'UTC', '+0000 +00:00 UTC'],
    ["'T'''", T, 'UTC', "T'"],
    ["yyyy-MM-dd'T'HH:mm:ss.SSSZZ", T, 'UTC', '2023-11-14T22:13:20.123+00:00'],
    ['HH:mm Z z', T, 'Asia/Kolkata', '03:43 +0530 IST'],
    ['HH:mm ZZ zzzz', T, 'Europe/Paris', '23:13 +01:00 Central European Standard Time'],
    ['HH:mm ZZ z', Date.UTC(2023, 6, 1, 12), 'Europe/Paris', '14:00 +02:00 CEST'],
    ['HH:mm z', T, 'America/Belize', '16:13 CST'],
    ['yyyy-MM-dd HH:mm Z z', T, 'UTC+01:30', '2023-11-14 23:43 +0130 UTC+01:30'],
    ['HH:mm Z z', T, 'GMT-5', '17:13 -0500 GMT-5'],
    ['HH:mm Z z', T, '+0130', '23:43 +0130 +0130'],
    ['HH:mm z', T, 'Z', '22:13 UTC'],
    // Midnight and noon on the four hour clocks.
    ['a h k K H', Date.UTC(2023, 0, 1, 0, 5), 'UTC', 'AM 12 24 0 0'],
    ['a h k K H', Date.UTC(2023, 0, 1, 12, 5), 'UTC', 'PM 12 12 0 12'],
    ['a h k K H', Date.UTC(2023, 0, 1, 23, 5), 'UTC', 'PM 11 23 11 23'],
    // Years before year 1: era BC, the year of the era counting from 1.
    ['G yyyy', Date.UTC(-1, 0, 1), 'UTC', 'BC 0002'],
    ['G yyyy', Date.UTC(-1, 0, 1), 'Europe/Paris', 'BC 0002'],
    ['SSS', -1, 'UTC', '999'],
    ['E e', Date.UTC(2023, 0, 1), 'UTC', 'Sun 7'],
    ['E e', Date.UTC(2023, 0, 2), 'UTC', 'Mon 1'],
    ['D', Date.UTC(2024, 11, 31), 'UTC', '366'],
    ['D', Date.UTC(2024, 0, 1), 'UTC', '1'],
    ['yy', Date.UTC(2005, 0, 1), 'UTC', '05'],
    ['MMM MMMM', Date.UTC(2023, 0, 1), 'UTC', 'Jan January'],
    ['MMM MMMM', Date.UTC(2023, 11, 1), 'UTC', 'Dec December'],
    ['EEEE e', T, 'America/New_York', 'Tuesday 2'],
    ['SSS', 1_700_000_000_005, 'UTC', '005'],
    // No English name for the zone in the platform's data: its offset (Java would print JST).
    ['z', T, 'Asia/Tokyo', 'GMT+09:00'],
  ])('%s at %d in %s is %s', (pattern, millis, zone, expected) => {
    expect(formatTime(pattern, millis, zone)).toBe(expected);
  });

  it('year 0 is 1 BC (there is no year 0 in the era calendar)', () => {
    const yearZero = new Date(Date.UTC(2000, 0, 1));
    yearZero.setUTCFullYear(0);
    expect(formatTime('G yyyy', yearZero.getTime(), 'UTC')).toBe('BC 0001');
  });

  it.each([
    ["yyyy'", T, 'UTC'],
    ['q', T, 'UTC'],
    ['HH:mm', T, 'Nowhere/City'],
    ['yyyy-MM-dd', NaN, 'UTC'],
  ])('%s at %d in %s is Undefined', (pattern, millis, zone) => {
    expect(formatTime(pattern, millis, zone)).toBeUndefined();
  });
});

describe('time_to_epoch(text, pattern)', () => {
  it.each([
    ['2023-11-14 22:13:20', 'yyyy-MM-dd HH:mm:ss', 1_700_000_000_000],
    ['23-11-14', 'yy-MM-dd', Date.UTC(2023, 10, 14)],
    ['14 Nov 2023', 'dd MMM yyyy', Date.UTC(2023, 10, 14)],
    ['14 November 2023', 'dd MMMM yyyy', Date.UTC(2023, 10, 14)],
    ['14 January 2023', 'dd MMMM yyyy', Date.UTC(2023, 0, 14)],
    ['2023-11-14 10:13 PM', 'yyyy-MM-dd hh:mm a', Date.UTC(2023, 10, 14, 22, 13)],
    ['2023-11-14 12:13 am', 'yyyy-MM-dd hh:mm a', Date.UTC(2023, 10, 14, 0, 13)],
    ['12:30 PM', 'hh:mm a', Date.UTC(1970, 0, 1, 12, 30)],
    ['2023-11-14 24:00', 'yyyy-MM-dd kk:mm', Date.UTC(2023, 10, 14)],
    ['2023-11-14 11:00', 'yyyy-MM-dd KK:mm', Date.UTC(2023, 10, 14, 11)],
    ['2023-11-14T22:13:20.123+0000', "yyyy-MM-dd'T'HH:mm:ss.SSSZ", T],
    [
      '2023-11-14T22:13:20.5+01:00',
      "yyyy-MM-dd'T'HH:mm:ss.SZZ",
      Date.UTC(2023, 10, 14, 21, 13, 20, 500),
    ],
    ['2023-11-14 22:13 +0530', 'yyyy-MM-dd HH:mm Z', Date.UTC(2023, 10, 14, 16, 43)],
    ['2023-11-14 22:13 -0500', 'yyyy-MM-dd HH:mm Z', Date.UTC(2023, 10, 15, 3, 13)],
    ['Tue 2023-11-14', 'EEE yyyy-MM-dd', Date.UTC(2023, 10, 14)],
    ['Tuesday 2023-11-14', 'EEEE yyyy-MM-dd', Date.UTC(2023, 10, 14)],
    // A zone id: its offset at that wall time (standard time in November, summer time in July).
    ['2023-11-14 22:13 America/New_York', 'yyyy-MM-dd HH:mm z', Date.UTC(2023, 10, 15, 3, 13)],
    ['2023-07-14 22:13 Europe/Paris', 'yyyy-MM-dd HH:mm z', Date.UTC(2023, 6, 14, 20, 13)],
    ['2023-11-14 22:13 UTC+02:00', 'yyyy-MM-dd HH:mm z', Date.UTC(2023, 10, 14, 20, 13)],
    ['0044 BC', 'yyyy G', Date.UTC(-43, 0, 1)],
    ['2023 AD', 'yyyy G', Date.UTC(2023, 0, 1)],
    ['2023', 'yyyy', Date.UTC(2023, 0, 1)],
    ["2023'", "yyyy''", Date.UTC(2023, 0, 1)],
    ['2023-3-5', 'yyyy-M-d', Date.UTC(2023, 2, 5)],
    ['2023-03-05', 'yyyy-M-d', Date.UTC(2023, 2, 5)],
    ['2023.11.14', 'yyyy.MM.dd', Date.UTC(2023, 10, 14)],
    // Just before Paris moves its clocks forward (01:00 UTC): still UTC+1.
    ['2023-03-26 01:30 Europe/Paris', 'yyyy-MM-dd HH:mm z', Date.UTC(2023, 2, 26, 0, 30)],
  ])('%s as %s is %d', (text, pattern, expected) => {
    expect(parseTime(text, pattern)).toBe(expected);
  });

  it.each([
    ['14 Foo 2023', 'dd MMM yyyy'],
    ['2023-11-14 22:13 Nowhere/City', 'yyyy-MM-dd HH:mm z'],
    ['x2023', 'yyyy'],
    ['2023x', 'yyyy'],
    ['2023', 'q'],
    ['2023', "yyyy'"],
    ['2023a11', 'yyyy.MM'],
    ['2023-1-14', 'yyyy-MM-dd'],
    ['2023-11-14', 'yy-MM-dd'],
  ])('%s as %s is Undefined', (text, pattern) => {
    expect(parseTime(text, pattern)).toBeUndefined();
  });
});
