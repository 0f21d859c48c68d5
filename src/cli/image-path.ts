// Where `svasoc boot [image]` finds an image: a path (directory tree or cpio archive),
// or the name of a directory in images/.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const IMAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'images');
export const DEFAULT_IMAGE = 'default';

/** The image's path, or undefined when nothing matches. */
export function resolveImage(image: string | undefined): string | undefined {
  const name = image ?? DEFAULT_IMAGE;
  if (existsSync(name)) return name;
  const inImages = join(IMAGES_DIR, name);
  return existsSync(inImages) && statSync(inImages).isDirectory() ? inImages : undefined;
}

/** The names of the images in images/ (each a directory), sorted: what `svasoc boot NAME` accepts besides a path. */
export function imageNames(): string[] {
  try {
    return readdirSync(IMAGES_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}
