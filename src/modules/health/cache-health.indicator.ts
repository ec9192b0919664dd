import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { Cache } from 'cache-manager';
import { APP_CONFIG } from '../../config/app-config';
import type { AppConfig } from '../../config/app-config';

/**
 * The shared cache answers a write and a read (Redis when REDIS_URL is set, else the in-process store).
 * Definitions are served from memory either way, so a cache that is down degrades cross-instance sharing
 * but not tracking: it is reported, with its backend, and turns /health into 503 like the database.
 */
@Injectable()
export class CacheHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async check(key: 'cache') {
    const session = this.indicators.check(key);
    const backend = this.config.redisUrl ? 'redis' : 'memory';
    const probe = `health:${process.pid}`;
    try {
      const value = String(Date.now());
      await withTimeout(this.cache.set(probe, value, 5000), 1500);
      const read = await withTimeout(this.cache.get<string>(probe), 1500);
      return read === value ? session.up({ backend }) : session.down({ backend, message: 'cache did not return what was written' });
    } catch (error) {
      return session.down({ backend, message: (error as Error).message });
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]);
}
