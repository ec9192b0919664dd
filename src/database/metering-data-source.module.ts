import { Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { TransactionHost } from '../common/database/transaction-host';

/** The name metering's TypeORM data source is registered under, in this service and in a host application. */
export const METERING_DATA_SOURCE = 'metering';

/**
 * Makes `DataSource` mean metering's own (named) data source inside the modules that import this one.
 *
 * Why an alias instead of `@InjectDataSource('metering')` in every service: a host application has a
 * default TypeORM data source of its own, registered by a global module. Nest looks a dependency up in the
 * module's own imports before the global modules (the injector walks `imports` in order and globals are
 * bound last), so every metering module importing this one gets metering's data source, and the host's
 * modules, which do not import it, keep theirs. Not global on purpose: a global alias would compete with
 * the host's.
 *
 * It also provides the ambient transaction (TransactionHost) over that data source: one instance, since
 * this module is one, so every metering repository sees the transactions every other one opened.
 */
@Module({
  providers: [{ provide: DataSource, useExisting: getDataSourceToken(METERING_DATA_SOURCE) }, TransactionHost],
  exports: [DataSource, TransactionHost],
})
export class MeteringDataSourceModule {}
