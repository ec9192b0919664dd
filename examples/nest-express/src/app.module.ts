import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { UsageClientModule } from '@credit-metering/nest-client';
import { AiController } from './ai.controller';
import { StreamController } from './stream.controller';

@Module({
  imports: [
    ConfigModule.forRoot(),
    UsageClientModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        baseUrl: config.getOrThrow<string>('METERING_URL'),
        apiKey: config.getOrThrow<string>('METERING_API_KEY'),
        failMode: config.get<string>('METERING_FAIL_MODE') === 'open' ? 'open' : 'closed',
        journalPath: config.get<string>('METERING_JOURNAL'),
        timeoutMs: 2_000,
      }),
    }),
  ],
  controllers: [AiController, StreamController],
})
export class AppModule {}
