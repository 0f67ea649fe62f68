/** API Gateway's WebSocket limits and the backend's own, in one place. */

/** A WebSocket message is at most 128 KB (API Gateway joins frames of 32 KB into one message). */
export const WEBSOCKET_MESSAGE_MAX_BYTES = 128 * 1024;
/** A WebSocket frame is at most 32 KB: a larger message comes in several frames. */
export const WEBSOCKET_FRAME_MAX_BYTES = 32 * 1024;
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 50;
