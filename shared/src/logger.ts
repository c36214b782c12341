import { type LevelWithSilent, type Logger as PinoLogger, pino } from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/**
 * The logger every module receives. It is an interface so a host (tests, an embedding application) can
 * replace it; modules never create their own. `child` namespaces a logger per module (`{ module: 'broker' }`).
 */
export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Name of the process (`gateway`, `cloud`, `sim`); written as `service` on every line. */
  service: string;
  /** Where JSON lines go; defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

class PinoAdapter implements Logger {
  constructor(private readonly p: PinoLogger) {}
  trace(obj: object, msg?: string): void {
    this.p.trace(obj, msg);
  }
  debug(obj: object, msg?: string): void {
    this.p.debug(obj, msg);
  }
  info(obj: object, msg?: string): void {
    this.p.info(obj, msg);
  }
  warn(obj: object, msg?: string): void {
    this.p.warn(obj, msg);
  }
  error(obj: object, msg?: string): void {
    this.p.error(obj, msg);
  }
  fatal(obj: object, msg?: string): void {
    this.p.fatal(obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new PinoAdapter(this.p.child(bindings));
  }
}

/** JSON-lines logger (pino). Secrets are redacted by key name wherever they appear one level deep. */
export function createLogger(options: LoggerOptions): Logger {
  const p = pino(
    {
      level: (options.level ?? 'info') as LevelWithSilent,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['password', '*.password', 'token', '*.token', 'apiKey', '*.apiKey', 'privateKey', '*.privateKey'],
        censor: '[redacted]',
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stdout,
  );
  return new PinoAdapter(p);
}

/** A logger that drops everything: the default in tests. */
export const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
  child() {
    return silentLogger;
  },
};
