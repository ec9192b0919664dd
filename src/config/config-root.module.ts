import { DynamicModule, Module, Provider } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { APP_CONFIG, loadConfig } from './app-config';
import type { AppConfig } from './app-config';

/** Where the validated, typed configuration sits in ConfigService (`config.get<AppConfig>('app')`). */
export const APP_CONFIG_KEY = 'app';

export interface ConfigFromEnvironmentOptions {
  /** The .env file(s) to read; the real environment wins over them. Default: ./.env (if it exists). */
  envFilePath?: string | string[];
  /** Read no .env file, only the process environment. */
  ignoreEnvFile?: boolean;
}

export interface LoadedConfig {
  config: AppConfig;
  /** @nestjs/config's module holding it: give it to ConfigRootModule.forRoot so nothing is read twice. */
  configModule: DynamicModule;
}

/**
 * Reads ./.env and the process environment through @nestjs/config and validates them with loadConfig (its
 * `validate` hook), so a bad variable rejects with ConfigValidationError, one message per variable. The
 * config is needed before the application exists (the HTTP adapter takes the body limit, the proxy setting
 * and the logger), hence a function that returns it along with the module.
 */
export async function loadConfigFromEnvironment(options: ConfigFromEnvironmentOptions = {}): Promise<LoadedConfig> {
  let config: AppConfig | undefined;
  const configModule = await ConfigModule.forRoot({
    envFilePath: options.envFilePath ?? '.env',
    ignoreEnvFile: options.ignoreEnvFile,
    cache: true,
    validate: (env) => {
      config = loadConfig(env as Record<string, string | undefined>);
      return { ...env, [APP_CONFIG_KEY]: config };
    },
  });
  return { config: config as AppConfig, configModule };
}

/** @nestjs/config holding a configuration already built (tests, a host application): no environment is read. */
export function configModuleFor(config: AppConfig): Promise<DynamicModule> {
  return ConfigModule.forRoot({ ignoreEnvFile: true, ignoreEnvVars: true, validate: () => ({ [APP_CONFIG_KEY]: config }) });
}

/**
 * Makes the typed config global before any other module is built: ConfigService (from @nestjs/config) and
 * the APP_CONFIG token, which services inject for the typed object.
 */
@Module({})
export class ConfigRootModule {
  static forRoot(config: AppConfig, configModule?: DynamicModule): DynamicModule {
    const providers: Provider[] = [{ provide: APP_CONFIG, useFactory: (service: ConfigService) => service.getOrThrow<AppConfig>(APP_CONFIG_KEY), inject: [ConfigService] }];
    return { module: ConfigRootModule, global: true, imports: [configModule ?? configModuleFor(config)], providers, exports: [APP_CONFIG, ConfigModule] };
  }

  /** Inside another application: APP_CONFIG only. A global ConfigService of ours would answer the host's lookups. */
  static embedded(config: AppConfig): DynamicModule {
    return { module: ConfigRootModule, global: true, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
