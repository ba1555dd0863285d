/** Browser test helpers: the page is (re)built with Vite when out of date (browser/build/ensure-built.ts). */
export { DIST, ensureBuilt } from '../../browser/build/ensure-built.ts';
