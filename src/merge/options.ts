/**
 * The options reader of merge rules and attacks, src/config/options.ts, re-exported for the
 * merge rules, which import it from their own folder.
 */
export * from '../config/options.ts';
