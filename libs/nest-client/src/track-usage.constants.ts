/** The metadata key `@TrackUsage` sets on a handler (its own file: the decorator and interceptor both need it). */
export const TRACK_USAGE_METADATA = 'credit-metering:trackUsage';
