// Every workflow the worker serves: the worker bundles this file.
export { seeder } from './seeder.js';
