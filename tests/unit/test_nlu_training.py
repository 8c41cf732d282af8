"""nlu.training's reading of Rasa's output: progress from real `rasa train` lines (Rasa 3.6.21,
tests/nlu_fast_config.yml) and a log tail without tqdm's redraws."""

from __future__ import annotations

from nlu.training import LogTail, ProgressMap

# lines of a real training (`rasa train`, LOG_LEVEL=INFO), carriage returns already split
REAL = [
    "2026-11-26 05:21:05 INFO     rasa.engine.training.hooks  - Starting to train component"
    " 'JiebaTokenizer'.",
    "2026-11-26 05:21:06 INFO     rasa.engine.training.hooks  - Finished training component"
    " 'JiebaTokenizer'.",
    "2026-11-26 05:21:17 INFO     rasa.engine.training.hooks  - Starting to train component"
    " 'DIETClassifier'.",
    "Epochs:   0%|          | 0/12 [00:00<?, ?it/s]",
    "Epochs:   8%|▊         | 1/12 [00:18<03:25, 18.69s/it]",
    "Epochs:   8%|▊         | 1/12 [00:18<03:25, 18.69s/it, t_loss=11.7, i_acc=0.293,"
    " e_f1=0.00522]",
    "Epochs:  50%|█████     | 6/12 [00:33<00:20,  3.3s/it, t_loss=5.1, i_acc=0.8]",
    "Epochs: 100%|██████████| 12/12 [00:50<00:00,  2.6s/it, t_loss=2.9, i_acc=0.95]",
    "2026-11-26 05:22:14 INFO     rasa.engine.training.hooks  - Finished training component"
    " 'DIETClassifier'.",
    "2026-11-26 05:22:14 INFO     rasa.engine.training.hooks  - Restored component"
    " 'MemoizationPolicy' from cache.",
    "Your Rasa model is trained and saved at '/x/models/registry/nlu-1.tar.gz'.",
]


def test_progress_follows_components_and_epochs() -> None:
    seen: list[tuple[str, int]] = []
    progress = ProgressMap(lambda stage, percent: seen.append((stage, percent)), 0, 100)
    for line in REAL:
        progress.line(line)
    assert seen[0] == ("training JiebaTokenizer", 5)
    assert ("training DIET: epoch 6/12", 50) in seen
    assert ("training DIET: epoch 12/12", 90) in seen
    assert ("restored MemoizationPolicy", 92) in seen
    assert seen[-1] == ("model saved", 100)
    percents = [p for _, p in seen]
    assert percents == sorted(percents)


def test_progress_maps_onto_its_span_and_never_goes_back() -> None:
    seen: list[int] = []
    progress = ProgressMap(lambda _stage, percent: seen.append(percent), 3, 80)
    progress.line("Epochs:  50%|█████     | 20/40 [01:00<01:00,  3s/it]")
    progress.line("Epochs:  10%|█         | 4/40 [00:10<01:40,  3s/it]")  # a second bar
    assert seen == [41, 41]  # 3 + 77 x (0.1 + 0.8 x 20/40), then held


def test_cross_validation_folds_share_the_span() -> None:
    seen: list[tuple[str, int]] = []
    progress = ProgressMap(lambda s, p: seen.append((s, p)), 0, 100, folds=3)
    for fold in range(3):
        for epoch in (0, 6, 12):
            progress.line(f"Epochs: {epoch * 8}%|   | {epoch}/12 [00:01<00:01, 1s/it]")
        assert seen[-1][0] == f"training DIET fold {fold + 1}/3: epoch 12/12"
    assert seen[-1][1] == 96
    assert [p for _, p in seen] == sorted(p for _, p in seen)


def test_log_tail_keeps_the_last_lines_without_redraws() -> None:
    tail = LogTail(limit=200)
    for line in REAL:
        tail.add(line)
    tail.add("   0    0    0    1    0]")  # a row of a printed confusion matrix
    tail.add("")
    lines = tail.text().splitlines()
    assert len(tail.text()) <= 200
    assert lines[-1].startswith("Your Rasa model is trained")
    assert sum(1 for x in REAL if x.startswith("Epochs")) == 5
    full = LogTail()
    for line in REAL:
        full.add(line)
    epochs = [x for x in full.text().splitlines() if x.startswith("Epochs")]
    assert epochs == [REAL[7]]  # one bar, its last state
