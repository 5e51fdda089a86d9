/** Progress frames (every saveEvery iterations) uploaded as they come, tagged temporary. */
import type { Progress } from '../../engine/stylize.js';
import { encodeImage } from '../../image/encode.js';
import { contentTypeFor, type OutputFormat } from '../../image/formats.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { outputKeys } from '../spec/keys.js';

/** Uploads frames in the background; flush() waits for them and reports the first failure. */
export class FrameUploads {
  private readonly pending: Promise<unknown>[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: ReturnType<typeof outputKeys>,
    private readonly format: OutputFormat,
    /** Called before each upload (the lock's fence: a worker that lost its lease writes no frame). */
    private readonly beforeUpload: () => Promise<void> = async () => {},
  ) {}

  add(progress: Progress): void {
    if (!progress.image) return;
    const key = this.keys.frame(progress.done, this.format);
    const upload = encodeImage(progress.image, { format: this.format }).then(async (bytes) => {
      await this.beforeUpload();
      return this.store.put(key, bytes, { contentType: contentTypeFor(this.format), temporary: true });
    });
    upload.catch(() => {}); // reported by flush()
    this.pending.push(upload);
  }

  async flush(): Promise<void> {
    await Promise.all(this.pending);
  }
}
