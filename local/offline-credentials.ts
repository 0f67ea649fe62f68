/** The SDK clients need credentials even offline; none of these reach AWS. */
export const OFFLINE_CREDENTIALS = { accessKeyId: 'offline', secretAccessKey: 'offline' };
export const OFFLINE_REGION = 'us-east-1';
