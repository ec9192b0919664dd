import { createClient } from 'redis';

type RedisClient = ReturnType<typeof createClient>;
type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/**
 * One fixed window per key: the first hit starts it (PEXPIRE), every hit counts (INCR), all in one script so
 * instances sharing the Redis share the count. Returns the count and the milliseconds left in the window.
 */
const WINDOW_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`;

const READ_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return {0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(current), ttl}`;

/**
 * A @fastify/rate-limit store on node-redis (the plugin's own Redis store needs ioredis, which this project
 * does not use). Commands fail fast while Redis is away (no offline queue) and the plugin then lets the
 * request through (`skipOnError`): losing Redis must not take the API down.
 */
export class RedisRateLimitStore {
  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
  ) {}

  incr(key: string, callback: Callback, timeWindow: number): void {
    this.run(WINDOW_SCRIPT, key, [String(timeWindow)], callback);
  }

  read(key: string, callback: Callback): void {
    this.run(READ_SCRIPT, key, [], callback);
  }

  child(): RedisRateLimitStore {
    return this;
  }

  private run(script: string, key: string, args: string[], callback: Callback): void {
    this.client
      .eval(script, { keys: [this.prefix + key], arguments: args })
      .then((reply) => {
        const [current, ttl] = reply as [number, number];
        callback(null, { current: Number(current), ttl: Number(ttl) });
      })
      .catch((error: unknown) => callback(error as Error));
  }
}

export async function connectRateLimitRedis(url: string, onError: (error: Error) => void): Promise<RedisClient> {
  const client: RedisClient = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 5000) },
  });
  client.on('error', onError);
  await client.connect();
  return client;
}
