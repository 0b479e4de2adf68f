"""Copy local media into the S3 bucket under the same keys, for a switch to USE_S3=True."""

import mimetypes
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from config.unavailable import STORAGE_ERRORS
from images.storage import PrivateS3Storage


class Command(BaseCommand):
    help = (
        "Copy every file under MEDIA_ROOT (or --source) into the S3 bucket of the AWS_* settings, under the "
        "same key. Objects already there with the same size are skipped, so the command can be run again "
        "to resume or to catch up."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", type=Path, help="Folder to copy from (default: MEDIA_ROOT).")
        parser.add_argument("--dry-run", action="store_true", help="List what would be copied; copy nothing.")

    def handle(self, *args, source: Path | None, dry_run: bool, verbosity: int, **options) -> None:
        root = Path(source or settings.MEDIA_ROOT)
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder.")
        if not settings.S3_STORAGE_OPTIONS.get("bucket_name"):
            raise CommandError("AWS_STORAGE_BUCKET_NAME is not set.")
        storage = PrivateS3Storage(**settings.S3_STORAGE_OPTIONS)
        files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))

        copied = skipped = failed = 0
        # The bar goes to stderr and hides itself when that is not a terminal (logs stay clean).
        for path in tqdm(files, unit="file", desc="Copying", disable=None if verbosity else True):
            key = path.relative_to(root).as_posix()
            try:
                if self._already_copied(storage, key, path.stat().st_size):
                    skipped += 1
                elif dry_run:
                    copied += 1
                    self.stdout.write(f"Would copy {key}")
                else:
                    self._upload(storage, path, key)
                    copied += 1
            except STORAGE_ERRORS as exc:
                failed += 1
                self.stderr.write(f"Failed {key}: {exc}")

        verb = "Would copy" if dry_run else "Copied"
        self.stdout.write(f"{verb} {copied}, skipped {skipped} already in the bucket, failed {failed}.")
        if failed:
            raise CommandError(f"{failed} file(s) failed; run the command again to retry them.")

    @staticmethod
    def _already_copied(storage: PrivateS3Storage, key: str, size: int) -> bool:
        return storage.exists(key) and storage.size(key) == size

    @staticmethod
    def _upload(storage: PrivateS3Storage, path: Path, key: str) -> None:
        # The same write parameters as an upload through the API (no ACL, Cache-Control), and the
        # Content-Type of the extension, which the service set from the detected format.
        params = storage.get_object_parameters(key)
        params["ContentType"] = mimetypes.guess_type(key)[0] or "application/octet-stream"
        with path.open("rb") as fh:
            storage.bucket.upload_fileobj(fh, key, ExtraArgs=params)
