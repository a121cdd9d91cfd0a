export { BROWSER_POOL, TEST_RUN, TUNNEL } from '../api/resources.ts';
