"""Writing model directories atomically, so a failed run leaves nothing half-written."""
import contextlib
import hashlib
import json
import os
import shutil
import tempfile

MANIFEST = "flinkllm.json"


def sha256_of(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(model_dir):
    path = os.path.join(model_dir, MANIFEST)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_manifest(model_dir, manifest):
    with open(os.path.join(model_dir, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")


@contextlib.contextmanager
def staged_output(out_dir):
    """Yield a temporary directory next to `out_dir`; on success it replaces `out_dir`.

    The temp dir lives in the same parent so the final rename is atomic on one
    file system. On any exception the temp dir is removed and `out_dir` is untouched.
    """
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="." + os.path.basename(out_dir) + ".tmp-", dir=parent)
    try:
        yield staging
        _make_readable(staging)
        if os.path.exists(out_dir):
            old = staging + ".old"
            os.rename(out_dir, old)
            os.rename(staging, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _make_readable(directory):
    """mkdtemp and ONNX's external-data writer create owner-only files; task managers often
    run as another user, so give the model the usual world-readable modes (umask applies)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(directory, 0o777 & ~umask)
    for entry in os.listdir(directory):
        os.chmod(os.path.join(directory, entry), 0o666 & ~umask)
