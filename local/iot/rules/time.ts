/**
 * parse_time() and time_to_epoch() of AWS IoT SQL: Java (Joda-Time / java.time) date patterns,
 * with time zones from the platform's own zone data through `Intl` (no hand-written zone tables).
 * Pattern letters this module does not know make the function Undefined, as AWS answers for
 * arguments it cannot use.
 */
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

type Part = { kind: 'letters'; letter: string; count: number } | { kind: 'literal'; text: string };

/** Splits a pattern into runs of one letter and literal text ('…' quotes, '' one quote). */
function tokenize(pattern: string): Part[] | undefined {
  const parts: Part[] = [];
  let at = 0;
  while (at < pattern.length) {
    const char = pattern.charAt(at);
    if (char === "'") {
      if (pattern.charAt(at + 1) === "'") {
        parts.push({ kind: 'literal', text: "'" });
        at += 2;
        continue;
      }
      const close = pattern.indexOf("'", at + 1);
      if (close === -1) return undefined;
      parts.push({ kind: 'literal', text: pattern.slice(at + 1, close) });
      at = close + 1;
      continue;
    }
    if (/[A-Za-z]/.test(char)) {
      let count = 1;
      while (pattern.charAt(at + count) === char) count++;
      parts.push({ kind: 'letters', letter: char, count });
      at += count;
      continue;
    }
    parts.push({ kind: 'literal', text: char });
    at += 1;
  }
  return parts;
}

/** A fixed offset zone such as UTC+01:00, GMT-5 or +0130; minutes east of UTC. */
function fixedOffset(zone: string): number | undefined {
  if (/^(UTC|GMT|UT|Z)$/i.test(zone)) return 0;
  const match = /^(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(zone);
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
  return match[1] === '-' ? -minutes : minutes;
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
      era: 'short',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall-clock time of `millis` in `zone`, and the zone's offset then (minutes east). */
function wallTime(millis: number, zone: string): { wall: Wall; offset: number } {
  const fixed = fixedOffset(zone);
  if (fixed !== undefined) {
    const d = new Date(millis + fixed * 60_000);
    return {
      offset: fixed,
      wall: {
        year: d.getUTCFullYear(),
        month: d.getUTCMonth() + 1,
        day: d.getUTCDate(),
        hour: d.getUTCHours(),
        minute: d.getUTCMinutes(),
        second: d.getUTCSeconds(),
        weekday: d.getUTCDay(),
      },
    };
  }
  const parts = Object.fromEntries(
    formatter(zone)
      .formatToParts(millis)
      .map((part) => [part.type, part.value]),
  );
  let year = Number(parts.year);
  if (parts.era === 'BC') year = 1 - year;
  const wall: Wall = {
    year,
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: DAYS.findIndex((day) => day.startsWith(parts.weekday ?? '')),
  };
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  const offset = Math.round((asUtc - (millis - (((millis % 1000) + 1000) % 1000))) / 60_000);
  return { wall, offset };
}

/**
 * English locales whose CLDR data name zones the way Java does (CST for America/Belize in en-US,
 * CEST for Paris in en-GB, IST for Kolkata in en-IN…): the first that has a name, not GMT±h.
 */
const NAME_LOCALES = ['en-US', 'en-GB', 'en-IN', 'en-AU', 'en-ZA', 'en-SG', 'en-NZ', 'en-HK'];
const GMT_FORM = /^GMT([+-])(\d{1,2})(?::(\d{2}))?$/;

function zoneName(millis: number, zone: string, style: 'short' | 'long'): string {
  if (fixedOffset(zone) !== undefined) return zone.toUpperCase() === 'Z' ? 'UTC' : zone;
  let fallback = zone;
  for (const locale of NAME_LOCALES) {
    const name = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: style })
      .formatToParts(millis)
      .find((p) => p.type === 'timeZoneName')?.value;
    if (!name) continue;
    const gmt = GMT_FORM.exec(name);
    if (!gmt) return name;
    // No English name in the platform's data (Java has some, e.g. JST): the offset, GMT+09:00.
    fallback = `GMT${gmt[1]}${gmt[2]!.padStart(2, '0')}:${gmt[3] ?? '00'}`;
  }
  return fallback;
}

function offsetText(minutes: number, colon: boolean): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${sign}${hh}${colon ? ':' : ''}${mm}`;
}

const pad = (n: number, width: number) =>
  n < 0 ? `-${String(-n).padStart(width, '0')}` : String(n).padStart(width, '0');

/** parse_time(pattern, millis, zone): the time as text, or undefined if it cannot be. */
export function formatTime(pattern: string, millis: number, zone: string): string | undefined {
  const parts = tokenize(pattern);
  if (!parts || !Number.isFinite(millis)) return undefined;
  let wall: Wall;
  let offset: number;
  try {
    ({ wall, offset } = wallTime(millis, zone));
  } catch {
    return undefined; // not a time zone
  }
  const fraction = ((millis % 1000) + 1000) % 1000;
  let out = '';
  for (const part of parts) {
    if (part.kind === 'literal') {
      out += part.text;
      continue;
    }
    const { letter, count } = part;
    const hour12 = wall.hour % 12 === 0 ? 12 : wall.hour % 12;
    switch (letter) {
      case 'G':
        out += wall.year > 0 ? 'AD' : 'BC';
        break;
      case 'y':
      case 'Y':
      case 'u': {
        const year = letter === 'u' ? wall.year : wall.year > 0 ? wall.year : 1 - wall.year;
        out += count === 2 ? pad(year % 100, 2) : pad(year, count);
        break;
      }
      case 'M':
      case 'L':
        if (count >= 4) out += MONTHS[wall.month - 1];
        else if (count === 3) out += MONTHS[wall.month - 1]!.slice(0, 3);
        else out += pad(wall.month, count);
        break;
      case 'd':
        out += pad(wall.day, count);
        break;
      case 'D': {
        const dayOfYear =
          (Date.UTC(wall.year, wall.month - 1, wall.day) - Date.UTC(wall.year, 0, 1)) / 86_400_000 +
          1;
        out += pad(dayOfYear, count);
        break;
      }
      case 'E':
        out += count >= 4 ? DAYS[wall.weekday] : DAYS[wall.weekday]!.slice(0, 3);
        break;
      case 'e':
        out += pad(wall.weekday === 0 ? 7 : wall.weekday, count);
        break;
      case 'a':
        out += wall.hour < 12 ? 'AM' : 'PM';
        break;
      case 'H':
        out += pad(wall.hour, count);
        break;
      case 'k':
        out += pad(wall.hour === 0 ? 24 : wall.hour, count);
        break;
      case 'h':
        out += pad(hour12, count);
        break;
      case 'K':
        out += pad(wall.hour % 12, count);
        break;
      case 'm':
        out += pad(wall.minute, count);
        break;
      case 's':
        out += pad(wall.second, count);
        break;
      case 'S':
        out += String(fraction).padStart(3, '0').padEnd(count, '0').slice(0, count);
        break;
      case 'z':
        out += zoneName(millis, zone, count >= 4 ? 'long' : 'short');
        break;
      case 'Z':
        out +=
          count === 1 ? offsetText(offset, false) : count === 2 ? offsetText(offset, true) : zone;
        break;
      case 'X':
      case 'x':
        out += letter === 'X' && offset === 0 ? 'Z' : offsetText(offset, count >= 3 || count === 2);
        break;
      case 'V':
        out += zone;
        break;
      default:
        return undefined; // a pattern letter this engine does not format
    }
  }
  return out;
}

interface Parsed {
  year?: number;
  month?: number;
  day?: number;
  hour?: number;
  pm?: boolean;
  minute?: number;
  second?: number;
  millis?: number;
  zone?: string;
  offset?: number;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const nameAlternatives = (names: string[]) => names.map(escape).join('|');

/**
 * time_to_epoch(text, pattern): milliseconds since the epoch, or undefined when the text does not
 * match the pattern. Without a zone in the text, UTC.
 */
export function parseTime(text: string, pattern: string): number | undefined {
  const parts = tokenize(pattern);
  if (!parts) return undefined;
  let source = '^';
  const setters: ((value: string, parsed: Parsed) => boolean)[] = [];
  const number = (count: number, set: (n: number, parsed: Parsed) => void) => {
    source += count >= 2 ? `(\\d{${count}})` : '(\\d{1,9})';
    setters.push((value, parsed) => {
      set(Number(value), parsed);
      return true;
    });
  };
  for (const part of parts) {
    if (part.kind === 'literal') {
      source += escape(part.text);
      continue;
    }
    const { letter, count } = part;
    switch (letter) {
      case 'y':
      case 'u':
      case 'Y':
        source += count === 2 ? '(\\d{2})' : '(-?\\d{1,9})';
        setters.push((value, parsed) => {
          parsed.year = count === 2 ? 2000 + Number(value) : Number(value);
          return true;
        });
        break;
      case 'M':
      case 'L':
        if (count >= 3) {
          const names = count === 3 ? MONTHS.map((m) => m.slice(0, 3)) : MONTHS;
          source += `(${nameAlternatives(names)})`;
          setters.push((value, parsed) => {
            parsed.month = names.findIndex((n) => n.toLowerCase() === value.toLowerCase()) + 1;
            return parsed.month > 0;
          });
        } else number(count, (n, p) => (p.month = n));
        break;
      case 'd':
        number(count, (n, p) => (p.day = n));
        break;
      case 'H':
      case 'k':
        number(count, (n, p) => (p.hour = n % 24));
        break;
      case 'h':
      case 'K':
        number(count, (n, p) => (p.hour = n % 12));
        break;
      case 'a':
        source += '(AM|PM|am|pm)';
        setters.push((value, parsed) => {
          parsed.pm = value.toUpperCase() === 'PM';
          return true;
        });
        break;
      case 'm':
        number(count, (n, p) => (p.minute = n));
        break;
      case 's':
        number(count, (n, p) => (p.second = n));
        break;
      case 'S':
        source += `(\\d{${count}})`;
        setters.push((value, parsed) => {
          parsed.millis = Math.floor(Number(`0.${value}`) * 1000);
          return true;
        });
        break;
      case 'E':
        source += `(${nameAlternatives([...DAYS, ...DAYS.map((d) => d.slice(0, 3))])})`;
        setters.push(() => true);
        break;
      case 'G':
        source += '(AD|BC)';
        setters.push((value, parsed) => {
          if (value === 'BC' && parsed.year !== undefined) parsed.year = 1 - parsed.year;
          return true;
        });
        break;
      case 'z':
      case 'V':
        // A zone id (America/Los_Angeles), UTC/GMT with an offset, or an abbreviation.
        source += '([A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*(?:[+-]\\d{1,2}(?::?\\d{2})?)?|Z)';
        setters.push((value, parsed) => {
          parsed.zone = value;
          return true;
        });
        break;
      case 'Z':
      case 'X':
      case 'x':
        source += '(Z|[+-]\\d{2}:?\\d{2}|[+-]\\d{2})';
        setters.push((value, parsed) => {
          parsed.offset = fixedOffset(value);
          return parsed.offset !== undefined;
        });
        break;
      default:
        return undefined;
    }
  }
  const match = new RegExp(`${source}$`).exec(text);
  if (!match) return undefined;
  const parsed: Parsed = {};
  for (let i = 0; i < setters.length; i++) {
    if (!setters[i]!(match[i + 1]!, parsed)) return undefined;
  }
  if (parsed.pm) parsed.hour = (parsed.hour ?? 0) + 12;
  const local = Date.UTC(
    parsed.year ?? 1970,
    (parsed.month ?? 1) - 1,
    parsed.day ?? 1,
    parsed.hour ?? 0,
    parsed.minute ?? 0,
    parsed.second ?? 0,
    parsed.millis ?? 0,
  );
  if (parsed.offset !== undefined) return local - parsed.offset * 60_000;
  const zone = parsed.zone ?? 'UTC';
  try {
    // The zone's offset at that wall time: guessed at the instant, then checked once (DST).
    let offset = wallTime(local, zone).offset;
    offset = wallTime(local - offset * 60_000, zone).offset;
    return local - offset * 60_000;
  } catch {
    return undefined; // not a time zone
  }
}
