import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { MeteringUnavailableError } from './metering-error';
import { UsageClient } from './usage-client';
import type { KeyCheck } from './usage-client';
import { USAGE_CLIENT_OPTIONS } from './usage-client.options';
import type { UsageClientModuleOptions } from './usage-client.options';

/**
 * At boot, asks the service whether the configured key can meter (`GET /api/key`, scope `track`) and logs
 * one clear line when it cannot: an unknown key, a key without `track`, the admin key with no organization,
 * or a service it cannot reach yet. In the background: the host app starts either way (its metered routes
 * then answer what the service answers, or follow failMode).
 */
@Injectable()
export class UsageKeyCheck implements OnApplicationBootstrap {
  private readonly logger = new Logger('UsageClient');
  /** The boot check in flight or done (for tests and health checks); unset when checkKeyAtBoot is false. */
  result?: Promise<KeyCheck>;

  constructor(
    @Inject(UsageClient) private readonly client: UsageClient,
    @Inject(USAGE_CLIENT_OPTIONS) private readonly options: UsageClientModuleOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.checkKeyAtBoot === false) return;
    this.result = this.client.checkKey().then(
      (check) => {
        if (!check.ok) {
          if (check.error instanceof MeteringUnavailableError) this.logger.warn(check.problem);
          else this.logger.error(check.problem);
        }
        return check;
      },
      (error: unknown) => {
        const problem = `credit-metering: checking the API key failed: ${error instanceof Error ? error.message : String(error)}`;
        this.logger.error(problem);
        return { ok: false, problem } as KeyCheck;
      },
    );
  }
}
