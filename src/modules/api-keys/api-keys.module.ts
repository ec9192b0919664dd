import { Global, Module } from '@nestjs/common';
import { API_KEY_RESOLVER } from '../../common/auth/auth.guard';
import { MeteringDataSourceModule } from '../../database/metering-data-source.module';
import { ConfigCacheModule } from '../config-cache/config-cache.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { ApiKeyIdentityController } from './api-key-identity.controller';
import { ApiKeysAdminController } from './api-keys-admin.controller';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { MembershipPolicy } from './membership-policy';

/**
 * Organization API keys and who may act for an organization. Global: the app-wide AuthGuard resolves keys
 * through API_KEY_RESOLVER, and any module may inject MembershipPolicy without importing this one.
 */
@Global()
@Module({
  imports: [MeteringDataSourceModule, ConfigCacheModule, OrganizationsModule],
  controllers: [ApiKeysAdminController, ApiKeysController, ApiKeyIdentityController],
  providers: [ApiKeysRepository, ApiKeyAuthenticator, ApiKeysService, MembershipPolicy, { provide: API_KEY_RESOLVER, useExisting: ApiKeyAuthenticator }],
  exports: [API_KEY_RESOLVER, ApiKeysService, MembershipPolicy],
})
export class ApiKeysModule {}
