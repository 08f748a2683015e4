// Every workflow the worker serves: the worker bundles this file.
export { finder, finderStatus, runNow } from './finder.js';
export { seeder } from './seeder.js';
