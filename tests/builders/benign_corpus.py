"""A corpus of benign files as real libraries write them, for tests that must see no false alarm.

Run as ``python -m tests.builders.benign_corpus OUT``: it trains and saves with transformers'
Trainer, TRL, sentence-transformers and Lightning, exports with torch.jit and torch.onnx, and
writes GGUF files with the chat templates most models ship. It runs in a process of its own
because these libraries change global state (logging, seeds, warnings) on import. Nothing here
loads a file back.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# The chat templates of ChatML (Qwen, many fine-tunes) and Llama 3, as tokenizer configs carry them.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}"
)

# What the corpus holds, relative to OUT: the test checks each one was written.
EXPECTED = (
    "hf-safetensors/model.safetensors",
    "hf-safetensors/config.json",
    "hf-bin/pytorch_model.bin",
    "trainer/checkpoint-2/training_args.bin",
    "trainer/checkpoint-2/optimizer.pt",
    "trainer/checkpoint-2/scheduler.pt",
    "trainer/checkpoint-2/rng_state.pth",
    "trainer/checkpoint-2/trainer_state.json",
    "trl/training_args.bin",
    "sentence-transformers/training_args.bin",
    "lightning/last.ckpt",
    "torchscript/model.pt",
    "onnx/model.onnx",
    "gguf/chatml.gguf",
    "gguf/llama3.gguf",
    "gguf/tokenizer_config.json",
)


def _transformers(out: Path) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(out / "hf-safetensors")
    # What save_pretrained(safe_serialization=False) wrote before transformers 5: the state dict.
    (out / "hf-bin").mkdir()
    torch.save(model.state_dict(), out / "hf-bin/pytorch_model.bin")
    config.save_pretrained(out / "hf-bin")

    class Rows(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
        def __len__(self) -> int:
            return 8

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"input_ids": torch.tensor([1, 2, 3, 4]), "labels": torch.tensor(i % 2)}

    args = TrainingArguments(
        output_dir=str(out / "trainer"),
        max_steps=2,
        save_steps=2,
        per_device_train_batch_size=4,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    Trainer(model=model, args=args, train_dataset=Rows()).train()


def _training_configs(out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformerTrainingArguments
    from trl import SFTConfig

    for folder, cls in (
        ("trl", SFTConfig),
        ("sentence-transformers", SentenceTransformerTrainingArguments),
    ):
        args = cls(output_dir=str(out / folder), report_to=[], use_cpu=True)
        _ = args.device  # what Trainer does before it saves: the device state is pickled too
        (out / folder).mkdir(exist_ok=True)
        torch.save(args, out / folder / "training_args.bin")


def _lightning(out: Path) -> None:
    import pytorch_lightning as pl
    import torch

    class Classifier(pl.LightningModule):
        def __init__(self, lr: float = 1e-3, name: str = "run") -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, 2)

        def training_step(self, batch: list[torch.Tensor], index: int) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.cross_entropy(self.layer(x), y)

        def configure_optimizers(self) -> object:
            opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 1)}

    torch.manual_seed(0)
    rows = torch.utils.data.TensorDataset(torch.randn(8, 4), torch.randint(0, 2, (8,)))
    trainer = pl.Trainer(
        max_steps=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=str(out / "lightning"),
        accelerator="cpu",
    )
    trainer.fit(Classifier(), torch.utils.data.DataLoader(rows, batch_size=4))
    trainer.save_checkpoint(out / "lightning/last.ckpt")


def _exports(out: Path) -> None:
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.layer(x))

    net = Net().eval()
    (out / "torchscript").mkdir()
    torch.jit.save(torch.jit.script(net), out / "torchscript/model.pt")
    (out / "onnx").mkdir()
    torch.onnx.export(net, (torch.randn(1, 4),), out / "onnx/model.onnx", dynamo=False)


def _gguf(out: Path) -> None:
    import json

    import gguf
    import numpy as np

    (out / "gguf").mkdir()
    for name, template in (("chatml", CHATML), ("llama3", LLAMA3)):
        writer = gguf.GGUFWriter(str(out / f"gguf/{name}.gguf"), "llama")
        writer.add_context_length(64)
        writer.add_chat_template(template)
        writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    config = {"chat_template": LLAMA3, "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
    (out / "gguf/tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for step in (_transformers, _training_configs, _lightning, _exports, _gguf):
        step(out)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.simplefilter("ignore")
    build(Path(sys.argv[1]))
