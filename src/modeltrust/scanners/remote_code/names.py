"""What calls mean in repository Python: the qualified names that start processes, reach the
network, change files, load pickles or decode payloads, and the limits of the analysis."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

from modeltrust.findings import Severity
from modeltrust.scanners.common.callables import DENY_MODULES, Category
from modeltrust.scanners.interface import KiB, MiB

MAX_CONFIG = 64 * MiB
"""Largest config read into memory to look for ``auto_map``."""
MAX_SOURCE = 4 * MiB
"""Largest Python file parsed."""
MAX_FINDINGS = 50
"""Findings listed per Python file; the rest are summarised in one more."""
MAX_LOCAL_FILES = 64
"""Python files one config may pull in (named in auto_map, then relative imports)."""
MAX_REFERENCES = 256
"""auto_map entries read from one config."""
MAX_PAYLOAD_DEPTH = 3
"""Code handed to exec/eval inside code handed to exec/eval ... analysed this deep."""
MAX_DECODED = 1 * MiB
"""Largest constant payload decoded while analysing."""
LONG_LITERAL = 2 * KiB
"""A base64/hex string literal longer than this counts as an encoded payload."""
_CHUNK = 1 * MiB

_FOLD_DEPTH = 24
_FOLD_BUDGET = 200_000
_QUALIFY_DEPTH = 16
_MAX_CANDIDATES = 16


# --- what calls mean -----------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BUILTIN_NAMES = frozenset(dir(builtins))
_ALWAYS_BUILTIN = frozenset(
    {"eval", "exec", "compile", "execfile", "__import__", "getattr", "open", "globals", "vars"}
)
"""Builtins resolved even where the name looks shadowed: flow-insensitive binding analysis must
not let ``exec = print`` after ``exec(payload)`` hide the real call."""

_EVALS = frozenset({"builtins.eval", "builtins.exec", "builtins.execfile", "builtins.compile"})
_IMPORTERS = frozenset(
    {
        "builtins.__import__",
        "importlib.import_module",
        "importlib.__import__",
        "pydoc.locate",
        "pkgutil.resolve_name",
    }
)
_KNOWN_PACKAGES = _words(
    "transformers torch torchvision torchaudio diffusers accelerate peft timm "
    "flash_attn xformers triton einops numpy tokenizers sentence_transformers "
    "open_clip huggingface_hub safetensors"
)
"""Packages whose submodules may be imported by computed name (``f"transformers.models.{x}"``)."""

_CODE_BUILDERS = frozenset(
    {"types.FunctionType", "types.CodeType", "types.LambdaType", "marshal.loads", "marshal.load"}
)
_EXEC_MODULES = _words("code codeop runpy ctypes _ctypes cffi _interpreters _xxsubinterpreters")
_EXEC_NAMES = _words(
    "torch.hub.load torch.package.PackageImporter torch.distributed.rpc.rpc_sync "
    "torch.distributed.rpc.rpc_async torch.distributed.rpc.remote imp.load_source "
    "imp.load_module imp.load_compiled imp.load_dynamic"
)
_FILE_LOADERS = _words(
    "importlib.util.spec_from_file_location importlib.machinery.SourceFileLoader "
    "importlib.machinery.SourcelessFileLoader importlib.machinery.ExtensionFileLoader "
    "zipimport.zipimporter torch.utils.cpp_extension.load "
    "torch.utils.cpp_extension.load_inline torch.ops.load_library "
    "torch.classes.load_library"
)

_PROCESS_MODULES = frozenset(m for m, c in DENY_MODULES.items() if c is Category.PROCESS) - {
    "os",
    "_os",
    "posix",
    "nt",
    "platform",
    "signal",
    "asyncio",
    "concurrent",
    "msvcrt",
} | {
    "pexpect",
    "sh",
    "plumbum",
}
_PROCESS_NAMES = _words(
    "os.system os.popen os.popen2 os.popen3 os.popen4 os.fork os.forkpty os.startfile "
    "os.posix_spawn os.posix_spawnp os.kill os.killpg os.memfd_create platform.popen "
    "asyncio.create_subprocess_exec asyncio.create_subprocess_shell "
    "concurrent.futures.ProcessPoolExecutor "
    "concurrent.futures.process.ProcessPoolExecutor uuid._popen "
    "uuid._get_command_stdout torch.multiprocessing.spawn "
    "torch.multiprocessing.start_processes"
)
_PROCESS_PREFIXES = ("os.exec", "os.spawn", "asyncio.subprocess.")
_PROCESS_EXCEPT = frozenset(
    {"multiprocessing.cpu_count", "multiprocessing.current_process", "subprocess.list2cmdline"}
)

_NETWORK_MODULES = frozenset(m for m, c in DENY_MODULES.items() if c is Category.NETWORK) - {
    "huggingface_hub",
    "urllib",
    "http",
    "select",
    "selectors",
    "ssl",
    "_ssl",
} | {
    "urllib.request",
    "http.client",
    "http.server",
    "pycurl",
    "websocket",
    "websockets",
    "dns",
    "asyncssh",
    "scapy",
}
_NETWORK_NAMES = _words(
    "urllib.urlopen urllib.urlretrieve asyncio.open_connection asyncio.start_server "
    "ssl.wrap_socket torch.hub.load_state_dict_from_url "
    "torch.hub.download_url_to_file torch.utils.model_zoo.load_url "
    "huggingface_hub.upload_file huggingface_hub.upload_folder "
    "huggingface_hub.upload_large_folder huggingface_hub.create_commit "
    "huggingface_hub.create_repo huggingface_hub.delete_repo "
    "huggingface_hub.delete_file huggingface_hub.delete_folder"
)
_NETWORK_EXCEPT_PREFIXES = ("requests.exceptions.", "requests.structures.", "httpx._exceptions.")
_UPLOAD_METHODS = frozenset(
    {"upload_file", "upload_folder", "upload_large_folder", "create_commit", "delete_repo"}
)

_OPENERS = _words(
    "builtins.open io.open codecs.open io.FileIO os.fdopen gzip.open bz2.open "
    "lzma.open pathlib.Path().open"
)
_FILE_CHANGES = _words(
    "os.remove os.unlink os.rmdir os.removedirs os.rename os.renames os.replace "
    "os.chmod os.lchmod os.chown os.lchown os.chflags os.symlink os.link os.truncate "
    "os.mkfifo os.mknod os.open os.write os.utime shutil.rmtree shutil.move "
    "shutil.copy shutil.copy2 shutil.copyfile shutil.copytree shutil.chown "
    "shutil.copymode shutil.copystat shutil.make_archive shutil.unpack_archive "
    "torch.save numpy.save numpy.savez numpy.savez_compressed numpy.savetxt "
    "pathlib.Path().unlink pathlib.Path().rmdir pathlib.Path().rename "
    "pathlib.Path().replace pathlib.Path().touch pathlib.Path().chmod "
    "pathlib.Path().symlink_to pathlib.Path().hardlink_to"
)
_PATH_TYPES = _words("pathlib.Path pathlib.PosixPath pathlib.WindowsPath pathlib.PurePath")
_PATH_METHODS = ("Path.home", "Path.cwd", ".expanduser", ".resolve", ".absolute", ".joinpath")
_FOLDABLE_METHODS = _words(
    "joinpath decode encode replace lower upper strip lstrip rstrip swapcase casefold expanduser resolve absolute"
)
_DIR_MAKERS = frozenset({"os.makedirs", "os.mkdir", "pathlib.Path().mkdir"})
_WRITE_METHODS = frozenset({"write_text", "write_bytes"})
_READ_METHODS = frozenset({"read_text", "read_bytes"})
_SAVE_FUNCTION = re.compile(r"_*(?:save|write|export|dump|to_json_file|to_file)", re.IGNORECASE)

_PICKLE_LOADERS = _words(
    "pickle.load pickle.loads pickle.Unpickler dill.load dill.loads cloudpickle.load "
    "cloudpickle.loads joblib.load shelve.open jsonpickle.decode pandas.read_pickle "
    "yaml.unsafe_load yaml.unsafe_load_all yaml.full_load yaml.full_load_all"
)
_SAFE_YAML_LOADERS = frozenset(
    {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}
)

_DECODERS = _words(
    "base64.b64decode base64.b32decode base64.b32hexdecode base64.b16decode "
    "base64.b85decode base64.a85decode base64.z85decode base64.decodebytes "
    "base64.decodestring base64.standard_b64decode base64.urlsafe_b64decode "
    "base64.decode binascii.a2b_base64 binascii.a2b_hex binascii.unhexlify "
    "binascii.a2b_uu binascii.a2b_qp zlib.decompress gzip.decompress bz2.decompress "
    "lzma.decompress marshal.loads builtins.bytes.fromhex builtins.bytearray.fromhex "
    "quopri.decodestring"
)
_DECODER_METHODS = _words(
    "b64decode b32decode b16decode b85decode a85decode decodebytes urlsafe_b64decode "
    "standard_b64decode decompress unhexlify a2b_base64 a2b_hex fromhex"
)
_ENCODED_CODECS = _words(
    "rot13 rot_13 rot-13 hex hex_codec base64 base_64 base64_codec zlib zip "
    "zlib_codec bz2 bz2_codec uu uu_codec quopri unicode_escape raw_unicode_escape"
)
_HIDING_ENCODINGS = frozenset({"utf-7", "unicode-escape", "raw-unicode-escape", "punycode", "idna"})
_ENCODED_LITERAL = re.compile(r"[A-Za-z0-9+/=_\-\s]+")

_DANGER_WORDS = _words(
    "exec eval compile execfile __import__ import_module __builtins__ builtins "
    "globals getattr system popen Popen spawn fork execv execve execl check_output "
    "check_call getoutput getstatusoutput os subprocess pty socket marshal pickle "
    "loads ctypes urlopen urllib requests open remove rmtree unlink connect b64decode"
)
_DANGEROUS_ROOTS = _words(
    "os subprocess builtins sys importlib shutil socket pty ctypes marshal pickle "
    "posix nt runpy code"
)
_REROOT = frozenset(
    {"os", "subprocess", "sys", "builtins", "importlib", "shutil", "socket", "pty", "marshal"}
)
_REFERENCED = _words(
    "os.system os.popen os.startfile os.posix_spawn os.posix_spawnp subprocess.Popen "
    "subprocess.run subprocess.call subprocess.check_call subprocess.check_output "
    "subprocess.getoutput subprocess.getstatusoutput pty.spawn builtins.eval "
    "builtins.exec builtins.execfile builtins.__import__ importlib.import_module "
    "marshal.loads runpy.run_path runpy.run_module runpy._run_code"
)
"""Functions flagged even where they are passed around rather than called
(``map(os.system, cmds)``, ``Thread(target=os.system)``, ``__reduce__`` gadgets)."""

_SENSITIVE_ENV = _words(
    "LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT DYLD_INSERT_LIBRARIES DYLD_LIBRARY_PATH "
    "PYTHONPATH PYTHONSTARTUP PYTHONHOME PYTHONINSPECT BASH_ENV ENV PROMPT_COMMAND "
    "PATH HF_ENDPOINT"
)
_STARTUP_PATHS = (
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zprofile",
    ".zshenv",
    ".zlogin",
    "config.fish",
    "sitecustomize.py",
    "usercustomize.py",
    "/.config/autostart",
    "/etc/cron",
    "crontab",
    "/var/spool/cron",
    "authorized_keys",
    "/.git/hooks/",
    "/etc/profile",
    "/etc/rc",
    "/etc/ld.so.preload",
    "/etc/sudoers",
    "/etc/systemd/",
    "/.config/systemd/",
    "launchagents",
    "launchdaemons",
    "/start menu/programs/startup",
)
_SECRET_PATHS = (
    "/.ssh/",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "/.aws/",
    "/.netrc",
    ".git-credentials",
    "huggingface/token",
    "/.kube/config",
    "/.docker/config.json",
    "/.gnupg",
    "/etc/shadow",
    "/etc/passwd",
    "/.npmrc",
    "/.pypirc",
    "/.bash_history",
    "/.zsh_history",
    "/.python_history",
    "/.config/gcloud",
    "/.azure/",
    "login data",
    "/cookies",
    "/.env",
)


@dataclass(frozen=True, slots=True)
class _Rating:
    severity: Severity
    text: str


_CRITICAL = Severity.CRITICAL
_HIGH = Severity.HIGH


def _norm(q: str) -> str:
    """One spelling per callable: ``posix.system`` is ``os.system``; ``torch.os.system`` too."""
    parts = q.split(".")
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] in _REROOT and not parts[i - 1].endswith("()"):
            parts = parts[i:]
            break
    head = parts[0]
    head = {
        "posix": "os",
        "nt": "os",
        "_os": "os",
        "__builtin__": "builtins",
        "__builtins__": "builtins",
        "_io": "io",
        "_pickle": "pickle",
        "cPickle": "pickle",
        "_socket": "socket",
        "_posixsubprocess": "subprocess",
    }.get(head, head)
    parts = [head, *(p for p in parts[1:] if p != "__dict__")]
    out = ".".join(parts)
    if out == "importlib.__import__":
        return "builtins.__import__"
    return out


def _in_modules(q: str, modules: frozenset[str]) -> bool:
    """Whether ``q`` is a name inside one of ``modules`` (or one of their submodules)."""
    i = q.find(".")
    while i != -1:
        if q[:i] in modules:
            return True
        i = q.find(".", i + 1)
    return False


def _is_process(q: str) -> bool:
    if q in _PROCESS_EXCEPT:
        return False
    return (
        q in _PROCESS_NAMES or q.startswith(_PROCESS_PREFIXES) or _in_modules(q, _PROCESS_MODULES)
    )


def _is_network(q: str) -> bool:
    if q.startswith(_NETWORK_EXCEPT_PREFIXES):
        return False
    return q in _NETWORK_NAMES or _in_modules(q, _NETWORK_MODULES)


def _short(q: str) -> str:
    return q.removeprefix("builtins.").replace("pathlib.Path()", "Path(...)")


def _sensitive(path: str) -> tuple[str, bool] | None:
    """Why ``path`` is outside what model code should touch, and whether it runs at start-up."""
    p = path.replace("\\", "/").lower()
    if p.startswith(("$home", "${home}", "%userprofile%", "%appdata%")):
        p = "~" + p[p.find("/") :] if "/" in p else "~"
    for needle in _STARTUP_PATHS:
        if needle in p or (needle.endswith(".pth") and p.endswith(".pth")):
            return "a file that runs when a shell, Python or the system starts", True
    if p.endswith(".pth") and ("site-packages" in p or "dist-packages" in p):
        return "a .pth file Python runs at every start", True
    for needle in _SECRET_PATHS:
        if needle in p or p.endswith(needle.rstrip("/")):
            return "a file that holds credentials or history", False
    return None


def _absolute(path: str) -> bool:
    p = path.replace("\\", "/")
    return p.startswith(("/", "~", "$", "%")) or re.match(r"^[A-Za-z]:/", p) is not None
