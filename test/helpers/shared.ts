/** The read-only ../shared folder beside the checkout (real weights, test images), as CI lays it out. */
import path from 'node:path';

export const SHARED = path.resolve(import.meta.dirname, '../../../shared');
export const SHARED_WEIGHTS = path.join(SHARED, 'models/vgg19');
export const SHARED_IMAGES = path.join(SHARED, 'images');
