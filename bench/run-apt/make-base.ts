// The Debian minbase base image the tests use (debootstrap, cached under
// $HOIST_TEST_CACHE or ~/.cache/hoist-test): made on first use, then printed
// as JSON for run.mjs. Run through vite-node, which reads TypeScript.
import { debianMinbaseImage } from '../../test/helpers/debian-image.js';

process.stdout.write(`${JSON.stringify(await debianMinbaseImage())}\n`);
