"""The catalogue of rule ids. Ids are stable: a rule may be reworded, never renumbered or reused.

Each rule is documented in docs/rules.md under a heading with its id (a test enforces this), and
the same id is the SARIF ``ruleId`` and, later, the policy-file key.
"""

from __future__ import annotations

from dataclasses import dataclass

from modeltrust.findings import Finding, Location, Severity

CWE_502 = "CWE-502"  # Deserialization of untrusted data
CWE_400 = "CWE-400"  # Uncontrolled resource consumption
CWE_409 = "CWE-409"  # Improper handling of highly compressed data
CWE_20 = "CWE-20"  # Improper input validation
CWE_22 = "CWE-22"  # Path traversal
CWE_1395 = "CWE-1395"  # Dependency on a vulnerable third-party component (shadowed modules)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    remediation: str
    references: tuple[str, ...] = ()

    def finding(
        self,
        location: Location,
        message: str,
        *,
        evidence: str | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            rule_id=self.id,
            severity=self.severity if severity is None else severity,
            title=self.title,
            message=message,
            location=location,
            evidence=evidence,
            remediation=self.remediation,
            references=self.references,
        )


_DO_NOT_LOAD = (
    "Do not load this file. If you must use the model, get a safetensors copy from a trusted "
    "source, or load it in a sandbox with torch.load(..., weights_only=True)."
)
_INCOMPLETE = (
    "The file could not be fully analysed, so it cannot be called safe. Re-download it from its "
    "source; if it is still reported, treat it as untrusted."
)

# --- pickle --------------------------------------------------------------------------------------
PKL_CODE_EXEC = Rule(
    "MT-PKL-001",
    "Pickle imports a callable that runs code",
    Severity.CRITICAL,
    _DO_NOT_LOAD,
    (CWE_502, "CVE-2025-1716", "GHSA-565g-hwwr-4pp3"),
)
PKL_PROCESS = Rule(
    "MT-PKL-002",
    "Pickle imports a callable that starts processes",
    Severity.CRITICAL,
    _DO_NOT_LOAD,
    (CWE_502, "GHSA-r7v6-mfhq-g3m2"),
)
PKL_DYNAMIC_IMPORT = Rule(
    "MT-PKL-003",
    "Pickle imports a callable that resolves or imports other objects by name",
    Severity.CRITICAL,
    _DO_NOT_LOAD,
    (CWE_502, "GHSA-vvpj-8cmc-gx39", "GHSA-h4rm-mm56-xf63"),
)
PKL_NESTED_LOADER = Rule(
    "MT-PKL-004",
    "Pickle calls another deserialiser",
    Severity.CRITICAL,
    _DO_NOT_LOAD,
    (CWE_502, "GHSA-vv6j-3g6g-2pvj", "GHSA-h3qp-7fh3-f8h4"),
)
PKL_FILESYSTEM = Rule(
    "MT-PKL-005",
    "Pickle imports a callable that reads or writes files",
    Severity.HIGH,
    _DO_NOT_LOAD,
    (CWE_502,),
)
PKL_NETWORK = Rule(
    "MT-PKL-006",
    "Pickle imports a callable that uses the network",
    Severity.HIGH,
    _DO_NOT_LOAD,
    (CWE_502,),
)
PKL_MODEL_TAMPERING = Rule(
    "MT-PKL-007",
    "Pickle imports a callable that can patch a model or an object at load time",
    Severity.HIGH,
    _DO_NOT_LOAD,
    (CWE_502, "Sleepy Pickle (Trail of Bits, 2024)"),
)
PKL_SCANNER_TAMPERING = Rule(
    "MT-PKL-008",
    "Pickle imports a security scanner",
    Severity.CRITICAL,
    _DO_NOT_LOAD + " A model file has no reason to touch a scanner: this is an evasion attempt.",
    (CWE_502,),
)
PKL_UNKNOWN_IMPORT = Rule(
    "MT-PKL-009",
    "Pickle imports a callable that is not on the allowlist",
    Severity.HIGH,
    "Loading this file imports and calls code modeltrust does not know to be safe. Check that the "
    "named module is one you trust; prefer a safetensors copy of the weights.",
    (CWE_502,),
)
PKL_LIBRARY_CLASS = Rule(
    "MT-PKL-010",
    "Pickle rebuilds objects of a known machine-learning library",
    Severity.LOW,
    "Loading runs that library's reconstruction code, so it must be installed and trusted. "
    "Prefer a format that stores only tensors (safetensors, ONNX, skops).",
    (CWE_502,),
)
PKL_DUNDER = Rule(
    "MT-PKL-011",
    "Pickle reaches a dunder attribute",
    Severity.CRITICAL,
    _DO_NOT_LOAD + " Dunder names such as __builtins__ or __globals__ lead to arbitrary code.",
    (CWE_502, "protectai/modelscan#330"),
)
PKL_ATTRIBUTE_WRITE = Rule(
    "MT-PKL-012",
    "Pickle writes attributes of a function, module or class",
    Severity.CRITICAL,
    _DO_NOT_LOAD + " Rewriting a shared object lets later, allowlisted calls reach any code.",
    (CWE_502, CWE_1395),
)
PKL_UNRESOLVABLE = Rule(
    "MT-PKL-013",
    "Pickle imports a name that cannot be resolved statically",
    Severity.CRITICAL,
    _DO_NOT_LOAD + " The import is built from values that are not plain strings, which hides it "
    "from scanners.",
    (CWE_502, "picklescan keyerror-exploit / type-confusion-exploit"),
)
PKL_MALFORMED = Rule(
    "MT-PKL-014",
    "Pickle stream is malformed or truncated",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)
PKL_BROKEN_AFTER_CALL = Rule(
    "MT-PKL-015",
    "Pickle stream breaks after a call that a loader would already have run",
    Severity.CRITICAL,
    _DO_NOT_LOAD + " pickle.load runs every call before the broken part; the error is a decoy.",
    (CWE_502, "nullifAI (ReversingLabs, 2025)"),
)
PKL_LIMIT = Rule(
    "MT-PKL-016",
    "Pickle exceeds an analysis limit",
    Severity.HIGH,
    _INCOMPLETE + " Limits guard against memory and time bombs.",
    (CWE_400,),
)
PKL_EMBEDDED = Rule(
    "MT-PKL-017",
    "Pickle carries another pickle or archive inside a string",
    Severity.MEDIUM,
    "A model has little reason to carry a pickle as data; the embedded stream was scanned too "
    "and any finding in it is reported on its own.",
    (CWE_502, "GHSA-vv6j-3g6g-2pvj"),
)
PKL_CONTAINER_ABUSE = Rule(
    "MT-PKL-018",
    "Pickle mutates an object that is not a container",
    Severity.HIGH,
    _DO_NOT_LOAD + " SETITEM/APPEND on a rebuilt tensor or class is how restricted unpicklers "
    "have been escaped.",
    (CWE_502, "CVE-2025-32434", "CVE-2026-24747"),
)
PKL_TRAILING_DATA = Rule(
    "MT-PKL-019",
    "Data follows the end of a pickle stream",
    Severity.LOW,
    "Loaders ignore it, but it has no purpose in a model file; it was sniffed for hidden content.",
    (CWE_20,),
)

# --- containers ----------------------------------------------------------------------------------
ARC_LIMIT = Rule(
    "MT-ARC-001",
    "Archive exceeds a safety limit",
    Severity.HIGH,
    _INCOMPLETE + " Size, compression-ratio, member-count and depth limits stop archive bombs; "
    "raise them with the --max-* options only for archives you trust.",
    (CWE_409,),
)
ARC_MALFORMED = Rule(
    "MT-ARC-002",
    "Archive or compressed stream is malformed",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)
ARC_ZIP_ANOMALY = Rule(
    "MT-ARC-003",
    "Zip archive has header anomalies",
    Severity.MEDIUM,
    "CRC mismatches, unusual flag bits and names that differ between headers are how scanners "
    "have been bypassed (torch's reader ignores them). The members were scanned as torch reads "
    "them; re-create the archive if it should be clean.",
    (CWE_20, "CVE-2025-10156", "CVE-2025-1944", "CVE-2025-1945"),
)
ARC_ENCRYPTED = Rule(
    "MT-ARC-004",
    "Archive member is encrypted and cannot be analysed",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)
ARC_NEEDS_EXTRA = Rule(
    "MT-ARC-005",
    "Archive format needs an optional dependency",
    Severity.HIGH,
    "Install the extra named in the message (for example pip install 'modeltrust[7z]') and scan "
    "again; until then the content is unanalysed.",
    (),
)
ARC_PATH_TRAVERSAL = Rule(
    "MT-ARC-006",
    "Archive member name escapes the extraction folder",
    Severity.MEDIUM,
    "Do not extract this archive with a tool that trusts member names.",
    (CWE_22,),
)

# --- numpy ---------------------------------------------------------------------------------------
NPY_OBJECT_ARRAY = Rule(
    "MT-NPY-001",
    "NumPy array of Python objects (stored as a pickle)",
    Severity.MEDIUM,
    "Loading needs numpy.load(..., allow_pickle=True), which runs the embedded pickle; it was "
    "scanned and its findings are reported on their own. Store numeric arrays instead.",
    (CWE_502, "CVE-2019-6446"),
)
NPY_MALFORMED = Rule(
    "MT-NPY-002",
    "NumPy file header is malformed",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)

NPY_TRAILING_DATA = Rule(
    "MT-NPY-003",
    "Data follows the end of a NumPy array",
    Severity.LOW,
    "numpy.load ignores it, but it has no purpose in an array file; it was sniffed for hidden "
    "content.",
    (CWE_20,),
)

# --- torch ---------------------------------------------------------------------------------------
PT_LEGACY_LAYOUT = Rule(
    "MT-PT-001",
    "Legacy torch checkpoint does not have the layout torch.save writes",
    Severity.MEDIUM,
    "The storages after the pickles do not match what the pickles declare; the leftover bytes "
    "were sniffed for hidden content. Re-save the checkpoint with a current torch.",
    (CWE_20, "GHSA-97f8-7cmv-76j2"),
)

# --- safetensors ---------------------------------------------------------------------------------
ST_MALFORMED = Rule(
    "MT-ST-001",
    "safetensors header is malformed",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)
ST_LAYOUT = Rule(
    "MT-ST-002",
    "safetensors tensors do not match their byte ranges",
    Severity.HIGH,
    "A tensor's dtype and shape disagree with its byte range, or ranges overlap, leave gaps or "
    "leave the data section. Loaders may read the wrong bytes; re-export the file.",
    (CWE_20,),
)
ST_UNCLAIMED = Rule(
    "MT-ST-003",
    "safetensors file has bytes no tensor claims",
    Severity.HIGH,
    "Bytes after the last tensor belong to nothing. When they hold a pickle or an archive the "
    "finding is critical: a second loader could be pointed at them. Re-export the file.",
    (CWE_20, CWE_502),
)
ST_INDEX = Rule(
    "MT-ST-004",
    "safetensors index disagrees with its shards",
    Severity.HIGH,
    "model.safetensors.index.json must name only shards that exist and tensors that are in "
    "them. Fix or re-create the index.",
    (CWE_20,),
)
ST_METADATA = Rule(
    "MT-ST-005",
    "safetensors metadata carries URLs or secrets",
    Severity.MEDIUM,
    "__metadata__ should describe the weights. Check the URL or remove the credential.",
    ("CWE-798",),
)

# --- GGUF and chat templates ---------------------------------------------------------------------
GGUF_MALFORMED = Rule(
    "MT-GGUF-001",
    "GGUF structure is malformed",
    Severity.HIGH,
    _INCOMPLETE + " Counts, lengths, offsets and dimensions must stay inside the file.",
    (CWE_20, CWE_400),
)
TPL_SANDBOX_ESCAPE = Rule(
    "MT-TPL-001",
    "Chat template tries to escape the Jinja sandbox",
    Severity.CRITICAL,
    "Do not render this template. Dunder attributes, __subclasses__, __globals__, imports and "
    "os/popen calls run code in engines that render templates unsandboxed.",
    ("CVE-2024-34359", "CWE-1336"),
)
TPL_BACKDOOR = Rule(
    "MT-TPL-002",
    "Chat template changes the conversation behind the user's back",
    Severity.HIGH,
    "The template injects instructions or URLs, or switches behaviour on the content of a "
    "message. Compare it with the base model's template and use that one.",
    ("arXiv 2602.04653", "CWE-506"),
)
TPL_UNPARSABLE = Rule(
    "MT-TPL-003",
    "Chat template is not valid Jinja",
    Severity.MEDIUM,
    "The template could not be parsed, so it was not analysed. Engines will fail or render it "
    "differently; replace it with the base model's template.",
    (CWE_20,),
)

# --- ONNX ----------------------------------------------------------------------------------------
ONNX_EXTERNAL_PATH = Rule(
    "MT-ONNX-001",
    "ONNX external data points outside the model folder",
    Severity.CRITICAL,
    "An absolute location, '..', or a link out of the folder makes the loader read (or write) "
    "any file. Do not load this model.",
    (CWE_22, "CVE-2022-25882", "CVE-2024-27318", "CVE-2025-51480"),
)
ONNX_CUSTOM_DOMAIN = Rule(
    "MT-ONNX-002",
    "ONNX model uses custom operator domains",
    Severity.MEDIUM,
    "Running it needs a custom-operator library, which is native code from elsewhere. Check "
    "where that library comes from.",
    (),
)
ONNX_SIZES = Rule(
    "MT-ONNX-003",
    "ONNX declared sizes do not fit the data",
    Severity.HIGH,
    _INCOMPLETE + " A tensor's external offset and length, or its raw data, do not fit.",
    (CWE_20,),
)
ONNX_MALFORMED = Rule(
    "MT-ONNX-004",
    "ONNX model cannot be parsed",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)

# --- Keras and HDF5 ------------------------------------------------------------------------------
KERAS_LAMBDA = Rule(
    "MT-KERAS-001",
    "Keras model carries a Lambda layer with code",
    Severity.CRITICAL,
    "Lambda layers store Python bytecode that runs when the model is loaded or called. Do not "
    "load it; rebuild the layer in code you control.",
    (CWE_502, "CVE-2024-3660", "CVE-2025-9905"),
)
KERAS_FOREIGN_OBJECT = Rule(
    "MT-KERAS-002",
    "Keras config names an object outside Keras",
    Severity.HIGH,
    "module/class_name/registered_name points outside Keras' own namespaces, so loading "
    "imports and calls it (critical when it is a known code-execution gadget).",
    (CWE_502, "CVE-2025-1550"),
)
KERAS_BYPASS = Rule(
    "MT-KERAS-003",
    "Keras config uses a known safe_mode bypass",
    Severity.CRITICAL,
    "TorchModuleWrapper (torch.load), TFSMLayer (an external SavedModel), keras.utils.get_file "
    "and enable_unsafe_deserialization defeat safe_mode. Do not load this model.",
    (CWE_502, "CVE-2025-8747", "CVE-2025-49655", "CVE-2026-1462", "CVE-2025-9906"),
)
HDF5_EXTERNAL = Rule(
    "MT-KERAS-004",
    "HDF5 file refers to data outside itself",
    Severity.HIGH,
    "External links, external storage and virtual datasets read other files when the model "
    "loads; a user block hides data before the HDF5 header.",
    (CWE_22,),
)
KERAS_MALFORMED = Rule(
    "MT-KERAS-005",
    "Keras model or HDF5 file cannot be read",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)

# --- TensorFlow SavedModel -----------------------------------------------------------------------
TF_PYTHON_OP = Rule(
    "MT-TF-001",
    "SavedModel graph runs Python",
    Severity.CRITICAL,
    "PyFunc and EagerPyFunc call Python functions registered in the loading process. Do not "
    "load this model outside a sandbox.",
    (CWE_502,),
)
TF_FILE_OP = Rule(
    "MT-TF-002",
    "SavedModel graph reads or writes files",
    Severity.HIGH,
    "ReadFile, WriteFile and similar ops touch the filesystem whenever the graph runs. Check "
    "every path they use.",
    ("CWE-73",),
)
TF_CUSTOM_OP = Rule(
    "MT-TF-003",
    "SavedModel graph uses ops outside TensorFlow's standard set",
    Severity.HIGH,
    "Unknown ops need a custom op library (native code) to run. Check where it comes from.",
    (),
)
TF_MALFORMED = Rule(
    "MT-TF-004",
    "SavedModel protobuf cannot be parsed",
    Severity.HIGH,
    _INCOMPLETE,
    (CWE_20,),
)

# --- other code-bearing formats ------------------------------------------------------------------
TS_CODE = Rule(
    "MT-TS-001",
    "TorchScript archive carries code",
    Severity.MEDIUM,
    "TorchScript code runs inside torch.jit.load; review the code/ entries. Calls that load "
    "libraries or reach the OS raise this to high.",
    ("CVE-2022-45907",),
)
CFG_TARGET = Rule(
    "MT-CFG-001",
    "Config instantiates a class or function by name (_target_)",
    Severity.HIGH,
    "Hydra/NeMo configs import and call any _target_ on load; only allowlisted targets pass "
    "(critical when the target runs code or processes).",
    (CWE_502, "CVE-2025-23304"),
)
SKOPS_UNTRUSTED = Rule(
    "MT-SKOPS-001",
    "skops file needs types outside skops' trusted set",
    Severity.HIGH,
    "skops.io.load would ask you to trust these types; review each before passing trusted=.",
    (CWE_502, "CVE-2025-54412", "CVE-2025-54413", "CVE-2025-54886"),
)

# --- repository code (trust_remote_code) ---------------------------------------------------------
CODE_REMOTE = Rule(
    "MT-CODE-001",
    "Model needs trust_remote_code",
    Severity.MEDIUM,
    "auto_map points at Python files in the repository that transformers imports and runs "
    "when trust_remote_code=True. Review them (their findings follow) or use a native class.",
    ("arXiv 2601.14163",),
)
CODE_DANGEROUS = Rule(
    "MT-CODE-002",
    "Repository Python code runs processes, evaluates code or touches the network or files",
    Severity.HIGH,
    "This code runs with trust_remote_code=True. Read the flagged call; critical for eval/exec "
    "and processes.",
    ("CWE-94",),
)
CODE_OBFUSCATED = Rule(
    "MT-CODE-003",
    "Repository Python code hides a payload",
    Severity.CRITICAL,
    "Encoded data (base64, zlib, marshal, hex) fed to exec/eval/compile or a loader is how "
    "malware hides. Do not run this repository's code.",
    ("CWE-506",),
)
CODE_UNPARSABLE = Rule(
    "MT-CODE-004",
    "Repository Python file cannot be parsed",
    Severity.MEDIUM,
    "The file is not valid Python for the parser used, so it was not analysed.",
    (CWE_20,),
)

# --- files in general ----------------------------------------------------------------------------
GEN_UNREADABLE = Rule(
    "MT-GEN-001",
    "File could not be read",
    Severity.HIGH,
    "Check the file's permissions and that it is not a broken link, then scan again.",
    (),
)
GEN_UNRECOGNISED = Rule(
    "MT-GEN-002",
    "File named like a model has content modeltrust does not recognise",
    Severity.MEDIUM,
    "The content matches none of the formats modeltrust reads, so it was not analysed. Check "
    "what the file really is before giving it to a loader.",
    (),
)
GEN_NEEDS_EXTRA = Rule(
    "MT-GEN-004",
    "Reading this format needs an optional dependency",
    Severity.HIGH,
    "Install the extra named in the message (for example pip install 'modeltrust[onnx]') and "
    "scan again; until then the file is unanalysed.",
    (),
)
GEN_FORMAT_CONFUSION = Rule(
    "MT-GEN-005",
    "File content differs from what its name promises",
    Severity.HIGH,
    "A loader chosen by the name would read something else (a pickle named .safetensors). "
    "Treat the file as what its content is, and ask why it was renamed.",
    ("CVE-2025-1889",),
)
GEN_SPECIAL_FILE = Rule(
    "MT-GEN-003",
    "Path is not a regular file",
    Severity.HIGH,
    "A FIFO, device or socket is never read (it could block or never end), so what a loader "
    "would get from it was not analysed. Replace it with the real file and scan again.",
    (),
)
GEN_LINK = Rule(
    "MT-GEN-006",
    "Link followed",
    Severity.INFO,
    "Loaders follow symbolic links, so the file a link points to was scanned under the link's "
    "name; the message says where it really is (the Hub cache keeps files in ../../blobs).",
    (),
)
GEN_SAME_FILE = Rule(
    "MT-GEN-007",
    "Same file reached twice",
    Severity.INFO,
    "Two names (links, hard links) lead to one file or folder; it was scanned once, under the "
    "name the message gives, and its findings apply to both.",
    (),
)
GEN_EMPTY_WEIGHTS = Rule(
    "MT-GEN-008",
    "Model file is empty",
    Severity.HIGH,
    "A file named like model weights holds 0 bytes: a failed or partial download, or a file "
    "replaced on purpose. Nothing could be checked; download it again and scan again.",
    (),
)

# --- licence and lineage (MT-LIC, MT-LIN) -------------------------------------------------------
_READ_LICENCE = (
    "Read the licence named in the message before you use or ship the model; modeltrust's "
    "reading is a checklist, not legal advice."
)
LIC_NONE = Rule(
    "MT-LIC-001",
    "No licence declared",
    Severity.HIGH,
    "Without a licence nobody may use, change or share the model. Ask the publisher to add "
    "'license:' to the card metadata and a LICENSE file; until then do not adopt it.",
    (),
)
LIC_UNKNOWN = Rule(
    "MT-LIC-002",
    "Licence not recognised",
    Severity.MEDIUM,
    "modeltrust does not know this licence, so its terms were not checked. Read it yourself "
    "(license_link or the LICENSE file), or add it to the knowledge base.",
    (),
)
LIC_MISLABELLED = Rule(
    "MT-LIC-003",
    "Declared licence differs from a licence it inherits",
    Severity.HIGH,
    "A fine-tune, adapter, merge or quantization stays under its base's licence whatever its "
    "own card says. Follow the inherited licence too, and ask the publisher to correct the card.",
    (),
)
LIC_NAMING = Rule(
    "MT-LIC-004",
    "Derivative name lacks the prefix its licence requires",
    Severity.MEDIUM,
    "The base's licence requires a distributed derivative's name to start with the given "
    "prefix. Rename the model before you distribute it (or anything built from it).",
    (),
)
LIC_NON_COMMERCIAL = Rule(
    "MT-LIC-005",
    "Non-commercial licence in the lineage",
    Severity.HIGH,
    "The model, or a model it derives from, may not be used commercially. Use it only for "
    "non-commercial purposes, or obtain a commercial licence from the rights holder.",
    (),
)
LIC_RESEARCH_ONLY = Rule(
    "MT-LIC-006",
    "Research-only licence in the lineage",
    Severity.HIGH,
    "The model, or a model it derives from, is licensed for research or evaluation only. Do "
    "not put it into production or a product without a separate licence.",
    (),
)
LIC_CONFLICT = Rule(
    "MT-LIC-009",
    "Licence declarations in the repo disagree",
    Severity.MEDIUM,
    "The card, the licence files and the GGUF metadata name different licences. Find out which "
    "applies (often all of them do) before relying on any one.",
    (),
)
LIC_METADATA_UNREADABLE = Rule(
    "MT-LIC-010",
    "Licence or lineage metadata could not be read",
    Severity.MEDIUM,
    "Part of what the repo declares (card metadata, adapter_config.json, a GGUF header) could "
    "not be read, so the licence and lineage shown may be incomplete. Fix or inspect the file.",
    (),
)
LIC_USE_EXCEEDS = Rule(
    "MT-LIC-011",
    "Your use exceeds a licence condition",
    Severity.HIGH,
    "The use you described is above a licence threshold (monthly active users, revenue) or in "
    "a region the licence excludes. Obtain a separate licence from the rights holder first.",
    (),
)
LIC_UNVERIFIED = Rule(
    "MT-LIC-012",
    "Licence facts not verified",
    Severity.INFO,
    _READ_LICENCE + " The knowledge base marks some facts of this licence as unverified.",
    (),
)
LIN_BASE_NOT_FOUND = Rule(
    "MT-LIN-001",
    "Base model could not be found or read",
    Severity.HIGH,
    "A base model named by the repo could not be opened, so the terms it passes down are "
    "unknown. Check the name and your access (HF_TOKEN for gated or private repos).",
    (),
)
LIN_CYCLE = Rule(
    "MT-LIN-002",
    "Lineage declares a cycle",
    Severity.MEDIUM,
    "Two or more repos name each other as base models, which cannot be true. The walk stopped "
    "at the repeat; find the real base by other means.",
    (),
)
LIN_DEPTH = Rule(
    "MT-LIN-003",
    "Lineage beyond the walk's limits",
    Severity.HIGH,
    "Ancestors beyond the depth limit (or past the most repos one check reads) were not read, so "
    "their terms are unknown. Raise --max-depth if the chain is genuine.",
    (),
)
LIN_UNRESOLVABLE = Rule(
    "MT-LIN-004",
    "Base model named in a form that cannot be looked up",
    Severity.MEDIUM,
    "The base is named by a local path or a free-text name, not a Hub repo id, so its licence "
    "could not be checked. Identify the base and check its licence yourself.",
    (),
)
LIN_DISAGREE = Rule(
    "MT-LIN-005",
    "Lineage declarations disagree",
    Severity.LOW,
    "The card's base_model and adapter_config.json name different bases. Both were followed; "
    "ask the publisher which one is right.",
    (),
)
# (end of licence and lineage rules)

# --- documentation (MT-DOC) ----------------------------------------------------------------------
DOC_MUST_HAVE = Rule(
    "MT-DOC-001",
    "Model card lacks a must-have item",
    Severity.MEDIUM,
    "Without it you cannot judge whether the model fits your use. Ask the publisher to document "
    "it, or establish it yourself (run `modeltrust card TARGET --draft` for a card with the gaps "
    "marked) before adopting the model.",
    (),
)
DOC_PLACEHOLDER = Rule(
    "MT-DOC-002",
    "Card section holds template placeholder text",
    Severity.LOW,
    "The section was copied from a template and not filled in, so it documents nothing. Replace "
    "the placeholder with the facts, or delete the section.",
    (),
)
DOC_METADATA_UNREADABLE = Rule(
    "MT-DOC-003",
    "Model card metadata cannot be parsed",
    Severity.MEDIUM,
    "The YAML block at the top of README.md is malformed, so tools (and the Hub) cannot read the "
    "licence, datasets or base model from it. Fix the YAML.",
    (),
)
DOC_NO_CARD = Rule(
    "MT-DOC-004",
    "No model card",
    Severity.HIGH,
    "Nothing documents the model's purpose, training data, evaluation or limits. Do not adopt it "
    "until the publisher supplies a model card or you have documented it yourself.",
    (),
)
DOC_METADATA_ONLY = Rule(
    "MT-DOC-005",
    "Model card has metadata but no prose",
    Severity.LOW,
    "The card's metadata names facts but no section explains the model. Ask for a card that "
    "describes intended use, data, evaluation and limitations.",
    (),
)
DOC_UNREADABLE = Rule(
    "MT-DOC-006",
    "Part of the model's documentation could not be read",
    Severity.LOW,
    "A file that documents the model (the card, evaluation results, a safetensors header, a "
    "shard index) could not be read, so the coverage shown may understate what is documented. "
    "Inspect the file named in the message.",
    (),
)
# (end of documentation rules)

# --- fairness (MT-FAIR) --------------------------------------------------------------------------
FAIR_THRESHOLD = Rule(
    "MT-FAIR-001",
    "A disparity fails the fairness threshold",
    Severity.HIGH,
    "The model treats the groups named in the message differently beyond the threshold (by "
    "default the four-fifths rule: a selection-rate ratio below 0.8). Look at the per-group rates "
    "to see which group is disadvantaged, check the data for that group, and retrain, reweigh or "
    "adjust decision thresholds before adopting the model.",
    ("EEOC Uniform Guidelines, 29 CFR 1607.4(D)",),
)
FAIR_SMALL_GROUP = Rule(
    "MT-FAIR-002",
    "A group is too small for reliable estimates",
    Severity.MEDIUM,
    "Rates of a small group swing widely from sample to sample, so disparities that involve it "
    "are uncertain (see the confidence intervals). Collect more data for the group, merge it with "
    "a related group, or raise --min-group-size only if you accept the uncertainty.",
    (),
)
FAIR_UNDEFINED = Rule(
    "MT-FAIR-003",
    "A disparity check cannot be evaluated",
    Severity.HIGH,
    "The metric is undefined on this data (a zero denominator: no selected rows, no positives or "
    "no negatives on one side), so the check can neither pass nor fail. Audit with more data, "
    "choose another metric with --check, or review the per-group counts by hand.",
    (),
)
FAIR_UNDEFINED_RATE = Rule(
    "MT-FAIR-004",
    "A group has no positives or no negatives, so some of its rates are undefined",
    Severity.MEDIUM,
    "Fairlearn counts such a rate as 0 and AIF360 as NaN, and the two conventions give different "
    "disparities. Collect data with both outcomes for the group before relying on TPR, FPR or "
    "equalized-odds figures.",
    (),
)
FAIR_UNCERTAIN = Rule(
    "MT-FAIR-005",
    "A disparity passes the threshold, but its confidence interval crosses it",
    Severity.MEDIUM,
    "The point estimate passes, but resamples of the same data fail: the pass may not hold on "
    "new data. Audit with more rows before relying on the result.",
    (),
)
FAIR_DROPPED = Rule(
    "MT-FAIR-006",
    "Rows with missing values were left out of the audit",
    Severity.LOW,
    "--drop-missing removed rows with a null or NaN label, prediction, sensitive value, weight "
    "or score. If those rows are not missing at random (for example an unrecorded ethnicity) the "
    "audit is biased; fill sensitive values with an explicit 'unknown' instead.",
    (),
)
# (end of fairness rules)

# --- policy (MT-POL) -----------------------------------------------------------------------------
POL_LICENSE_DENIED = Rule(
    "MT-POL-001",
    "A licence of the model is not allowed by the policy",
    Severity.HIGH,
    "The policy lists the licences your organisation accepts (or refuses). Choose another model, "
    "get the licence approved and added to the policy, or record an exception with a reason, an "
    "approver and an expiry date.",
    (),
)
POL_LICENSE_PROPERTY = Rule(
    "MT-POL-002",
    "A licence of the model has a property the policy forbids",
    Severity.HIGH,
    "The policy refuses licences with this property (for example non-commercial or research-only "
    "terms, copyleft, or a licence modeltrust does not know). Choose another model or have the "
    "licence reviewed and record an exception.",
    (),
)
POL_USE_NOT_PERMITTED = Rule(
    "MT-POL-003",
    "The licences do not clearly permit the policy's use profile",
    Severity.HIGH,
    "The policy's use profile (commercial or not, users, revenue, region, distribution) is not "
    "permitted, or not clearly permitted, by the model's effective licences. Read the licence "
    "verdict's reasons; change the model, or have the use reviewed.",
    (),
)
POL_DOC_SCORE = Rule(
    "MT-POL-004",
    "Documentation score is below the policy minimum",
    Severity.MEDIUM,
    "The model card documents too little for the policy. Ask the publisher for a complete card, "
    "or write the missing parts yourself (`modeltrust card TARGET --draft`).",
    (),
)
POL_DOC_REQUIRED = Rule(
    "MT-POL-005",
    "Documentation item required by the policy is missing",
    Severity.MEDIUM,
    "The policy requires this topic or item to be documented. Ask the publisher, or establish it "
    "yourself before adopting the model.",
    (),
)
POL_FAIRNESS_MISSING = Rule(
    "MT-POL-006",
    "Fairness evidence required by the policy was not given",
    Severity.MEDIUM,
    "The policy requires a fairness audit. Run the audit again with --fairness-data and the "
    "--label, --prediction and --sensitive columns of your evaluation predictions.",
    (),
)
POL_EXCEPTION_EXPIRED = Rule(
    "MT-POL-007",
    "A policy exception has expired",
    Severity.MEDIUM,
    "The exception no longer waives anything, so the finding it covered counts again. Review it: "
    "renew it with a new expiry date and approver, or fix what it waived.",
    (),
)
POL_WAIVED = Rule(
    "MT-POL-008",
    "A finding was waived by a policy exception",
    Severity.INFO,
    "Nothing to do while the exception is valid; it is listed so that reviewers see every waiver, "
    "who approved it and when it expires.",
    (),
)

# --- modeltrust itself ---------------------------------------------------------------------------
INT_SCANNER_CRASH = Rule(
    "MT-INT-001",
    "A scanner failed on this file",
    Severity.HIGH,
    _INCOMPLETE + " This is a bug in modeltrust: please report it with the --debug output.",
    (),
)

ALL_RULES: tuple[Rule, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Rule))
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in ALL_RULES}
