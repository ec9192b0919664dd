import { DynamicModule, Module, Provider } from '@nestjs/common';
import { APP_CONFIG } from './app-config';
import type { AppConfig } from './app-config';

/** Makes the typed config global before any other module is built. */
@Module({})
export class ConfigRootModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [{ provide: APP_CONFIG, useValue: config }];
    return { module: ConfigRootModule, global: true, providers, exports: [APP_CONFIG] };
  }
}
