import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const IN_MEMORY = 'memory://';

export class DataDirLockedError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `The embedded database folder ${dataDir} is in use by process ${pid}. ` +
        'Stop that process, or set DATA_DIR to another folder (or DATABASE_URL to a PostgreSQL server).',
    );
    this.name = 'DataDirLockedError';
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Folders this process holds: a lock file naming our own pid is only stale if we do not hold it. */
const heldByThisProcess = new Set<string>();

/**
 * Takes `<dataDir>/.lock`: two processes on one PGlite folder lose rows, so a second one is refused.
 * A lock left by a process that died (kill -9) is taken over.
 */
function acquireLock(dataDir: string): void {
  const lockPath = join(dataDir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldByThisProcess.add(dataDir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      const ours = pid === process.pid;
      // Our own pid in a lock we do not hold is a leftover of an earlier life (containers reuse pids).
      if (Number.isInteger(pid) && pid > 0 && (ours ? heldByThisProcess.has(dataDir) : processIsAlive(pid))) {
        throw new DataDirLockedError(dataDir, pid);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not take the lock ${lockPath}`);
}

function releaseLock(dataDir: string): void {
  heldByThisProcess.delete(dataDir);
  rmSync(join(dataDir, '.lock'), { force: true });
}

/**
 * PostgreSQL compiled to WebAssembly (PGlite), served on a unix socket so the ordinary `pg` driver and
 * TypeORM's postgres driver use it exactly as they use a real server: one database code path.
 * For development and demos: PGlite never calls fsync, so it survives kill -9 but not a power cut.
 */
// The types of what `start` imports (its ESM declarations: a static `import type` would name the CJS ones).
type PGlite = Awaited<ReturnType<(typeof import('@electric-sql/pglite', { with: { 'resolution-mode': 'import' } }))['PGlite']['create']>>;
type PGLiteSocketServer = InstanceType<(typeof import('@electric-sql/pglite-socket', { with: { 'resolution-mode': 'import' } }))['PGLiteSocketServer']>;

export class EmbeddedPostgres {
  private constructor(
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
    private readonly socketDir: string,
    private readonly lockedDir: string | undefined,
    readonly maxConnections: number,
  ) {}

  static async start(dataDir: string, maxConnections = 12): Promise<EmbeddedPostgres> {
    let lockedDir: string | undefined;
    if (dataDir !== IN_MEMORY) {
      lockedDir = resolve(dataDir);
      mkdirSync(lockedDir, { recursive: true });
      acquireLock(lockedDir);
    }
    try {
      // Loaded here, not at the top: a service on PostgreSQL (DATABASE_URL) never loads PGlite's JavaScript
      // (half a megabyte of source kept in the heap, plus its compiled code).
      const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-socket')]);
      const db = await PGlite.create(lockedDir ? join(lockedDir, 'pgdata') : IN_MEMORY);
      const socketDir = mkdtempSync(join(tmpdir(), 'pglite-'));
      const server = new PGLiteSocketServer({ db, path: join(socketDir, '.s.PGSQL.5432'), maxConnections });
      await server.start();
      return new EmbeddedPostgres(db, server, socketDir, lockedDir, maxConnections);
    } catch (error) {
      if (lockedDir) releaseLock(lockedDir);
      throw error;
    }
  }

  /** Options for `pg` / TypeORM: host is the socket folder, the driver appends `.s.PGSQL.5432`. */
  get connectionOptions(): { host: string; port: number; username: string; database: string } {
    return { host: this.socketDir, port: 5432, username: 'postgres', database: 'postgres' };
  }

  async stop(): Promise<void> {
    try {
      await this.server.stop();
      await this.db.close();
    } finally {
      rmSync(this.socketDir, { recursive: true, force: true });
      if (this.lockedDir) releaseLock(this.lockedDir);
    }
  }
}
