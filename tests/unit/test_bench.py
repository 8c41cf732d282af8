"""The pure parts of `make bench` (scripts/benchlib/): the customer's script, percentiles,
the verdicts against the targets, /proc parsing, the training part's timings and BENCHMARKS.md
with what it carries over. No servers, no files."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from scripts.benchlib import (
    DEFAULT_INTRO,
    EVALUATING_CANDIDATE,
    GATEWAY,
    GENERATED_MARKER,
    RASA,
    CarriedGateway,
    Customer,
    GatewayRun,
    Level,
    Machine,
    PathRun,
    Report,
    RunInfo,
    Training,
    cache_use,
    command_line,
    comment_json,
    comparison_rows,
    conditions_text,
    cpu_model_and_cores,
    cpu_shares,
    lost_gateway_figures,
    machine_ticks,
    meminfo_total_gib,
    merge_benchmarks,
    minutes,
    notes,
    os_name,
    percentile,
    phone_number,
    previous_gateway,
    previous_training,
    process_ticks,
    render_markdown,
    seconds_text,
    stage_seconds,
    status_kib,
    summary_text,
    training_summary,
    training_time,
    training_verdict,
    verdicts,
)

# --- the customer's script ------------------------------------------------------------------------


def converse(customer: Customer, answers: dict[str, str]) -> list[str]:
    """Play the bot: the reply to each message is answers[message] ('' when not listed)."""
    sent: list[str] = []
    reply: str | None = None
    while (text := customer.next_message(reply)) is not None:
        sent.append(text)
        reply = answers.get(text, "")
        assert len(sent) < 50, "the script never ends"
    return sent


HAPPY = {
    "你好": "您好！我是供电所智能客服。",
    "东山村3组停电了 俺家啥电器都用不了": "请问是什么情况？",
    "只有我家没电": "请留一个联系电话",
    "13900000007": "已为您登记报修，工单号T2611230001，90分钟内到达",
    "阶梯电价咋算": "居民阶梯电价按全年累计用电量分三档",
    "查下上个月电费多少": "请提供户号",
    "3301000001": "请输入预留手机号后4位",
    "0001": "验证成功。电费合计 88.00 元",
    "谢谢": "不客气，能帮到您就好！",
}


def test_the_whole_script_answers_the_fault_form() -> None:
    customer = Customer(phone_number(7))
    sent = converse(customer, HAPPY)
    assert sent == [
        "你好",
        "东山村3组停电了 俺家啥电器都用不了",
        "只有我家没电",
        "13900000007",
        "阶梯电价咋算",
        "查下上个月电费多少",
        "3301000001",
        "0001",
        "谢谢",
    ]
    assert customer.off_script == 0


def test_the_form_asking_for_the_village_gets_it() -> None:
    answers = dict(HAPPY, **{"东山村3组停电了 俺家啥电器都用不了": "请问是哪个村？"})
    answers["东山村3组"] = "请问是什么情况？"
    sent = converse(Customer(phone_number(7)), answers)
    assert sent[1:5] == [
        "东山村3组停电了 俺家啥电器都用不了",
        "东山村3组",
        "只有我家没电",
        "13900000007",
    ]


def test_unexpected_replies_are_counted_and_the_script_goes_on() -> None:
    answers = dict(HAPPY, **{"你好": "???", "东山村3组停电了 俺家啥电器都用不了": "嗯？"})
    customer = Customer(phone_number(7))
    sent = converse(customer, answers)
    assert sent[:3] == ["你好", "东山村3组停电了 俺家啥电器都用不了", "阶梯电价咋算"]
    assert customer.off_script == 2


def test_a_form_that_never_ends_is_left_after_four_answers() -> None:
    answers = dict(HAPPY, **{"东山村3组停电了 俺家啥电器都用不了": "请问是什么情况？"})
    answers["只有我家没电"] = "请问是什么情况？"
    customer = Customer(phone_number(7))
    sent = converse(customer, answers)
    assert sent.count("只有我家没电") == 4
    assert sent[-1] == "谢谢"
    assert customer.off_script == 1


def test_a_later_first_phase_starts_the_conversation_there() -> None:
    assert converse(Customer(phone_number(1), first_phase=3), HAPPY) == [
        "查下上个月电费多少",
        "3301000001",
        "0001",
        "谢谢",
    ]
    assert converse(Customer(phone_number(1), first_phase=5), HAPPY)[0] == "你好"  # wraps


def test_phone_numbers_are_distinct_mobiles() -> None:
    assert phone_number(1) == "13900000001"
    assert len({phone_number(n) for n in range(1000)}) == 1000


# --- statistics and verdicts ----------------------------------------------------------------------


def test_percentile_interpolates_between_ranks() -> None:
    values = [40.0, 10.0, 30.0, 20.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="0-100"):
        percentile(values, 101)


def path_run(
    path: str,
    latencies: list[float],
    seconds: float,
    errors_by_kind: tuple[tuple[str, int], ...] = (),
    peak_rss_mb: float | None = None,
    own_ms: tuple[float, ...] = (),
) -> PathRun:
    return PathRun(
        path,
        1,
        tuple(latencies),
        seconds,
        errors_by_kind,
        peak_rss_mb=peak_rss_mb,
        own_ms=own_ms,
    )


def level(
    customers: int,
    gateway_ms: float,
    rasa_ms: float,
    gateway_n: int,
    rasa_n: int,
    own_ms: tuple[float, ...] = (),
) -> Level:
    return Level(
        customers,
        path_run(GATEWAY, [gateway_ms] * gateway_n, 10.0, peak_rss_mb=80.0, own_ms=own_ms),
        path_run(RASA, [rasa_ms] * rasa_n, 10.0),
    )


def test_overhead_and_throughput_ratio() -> None:
    one = level(1, 208.0, 200.0, 48, 50)
    assert one.overhead_ms == pytest.approx(8.0)
    assert one.gateway.rate == pytest.approx(4.8)
    assert one.throughput_ratio == pytest.approx(0.96)
    assert math.isnan(level(1, 1.0, 1.0, 5, 0).throughput_ratio)


def test_errors_are_summed_over_kinds() -> None:
    run = path_run(GATEWAY, [1.0], 1.0, errors_by_kind=(("timeout", 2), ("HTTP 503", 1)))
    assert run.errors == 3


def test_verdicts_met_at_the_limits() -> None:
    met = verdicts([level(1, 210.0, 200.0, 90, 100), level(10, 500.0, 495.0, 95, 100)], 149.0)
    assert [v.met for v in met] == [True, True, True]
    assert met[0].measured == "+10.0 ms / +5.0 ms at 1 / 10 customers"
    assert met[1].measured == "90% / 95% at 1 / 10 customers"
    assert met[2].measured == "149 MB peak resident (VmHWM)"


def test_verdicts_not_met_when_any_level_misses() -> None:
    missed = verdicts([level(1, 205.0, 200.0, 100, 100), level(50, 600.0, 500.0, 80, 100)], 150.0)
    assert [v.met for v in missed] == [False, False, False]


def test_the_p50_target_is_judged_message_by_message_when_the_gateway_says() -> None:
    """With the gateway's own time per message (Server-Timing), the p50 target is judged on
    it, the A/B difference shown beside it; either way every level must meet it."""
    noisy_ab = [
        level(1, 230.0, 200.0, 96, 100, own_ms=(3.0, 4.0, 5.0, 25.0)),
        level(10, 900.0, 880.0, 99, 100, own_ms=(6.0, 10.0, 12.0)),
    ]
    met = verdicts(noisy_ab, 80.0)[0]
    assert met.met is True
    assert met.measured == (
        "4.5 ms / 10.0 ms at 1 / 10 customers, message by message (the difference of the two"
        " paths' p50s: +30.0 ms / +20.0 ms at 1 / 10 customers)"
    )
    slow = [level(1, 200.0, 200.0, 100, 100, own_ms=(11.0,)), level(10, 880.0, 880.0, 1, 1)]
    assert verdicts(slow, 80.0)[0].met is False  # 11 ms at 1; n/a at 10 (no header): A/B judges
    assert verdicts(slow[:1], 80.0)[0].met is False
    assert comparison_rows(noisy_ab)[0] == ["1", "4.5 / 22.0 ms", "+30.0 ms", "96%"]
    assert comparison_rows(slow)[1] == ["10", "n/a", "+0.0 ms", "100%"]


def test_nothing_measured_meets_nothing() -> None:
    assert [v.met for v in verdicts([], None)] == [False, False, False]
    assert verdicts([], None)[2].measured == "not measured"
    no_replies = Level(1, path_run(GATEWAY, [], 5.0), path_run(RASA, [], 5.0))
    assert [v.met for v in verdicts([no_replies], 50.0)] == [False, False, True]


# --- machine facts --------------------------------------------------------------------------------


def test_cpu_model_and_cores() -> None:
    cpuinfo = (
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\ncpu MHz\t\t: 2450.0\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    )
    assert cpu_model_and_cores(cpuinfo) == ("AMD EPYC 7B13", 2)
    assert cpu_model_and_cores("") == ("unknown", 0)


def test_meminfo_os_release_and_status() -> None:
    assert meminfo_total_gib("MemTotal:       24683520 kB\nMemFree: 1 kB\n") == pytest.approx(
        23.54, abs=0.01
    )
    assert meminfo_total_gib("") is None
    assert os_name('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n') == (
        "Debian GNU/Linux 12 (bookworm)"
    )
    status = "Name:\tpython\nVmHWM:\t   98304 kB\nVmRSS:\t   81920 kB\n"
    assert status_kib(status, "VmHWM") == 98304
    assert status_kib(status, "VmRSS") == 81920
    assert status_kib(status, "VmSwap") is None


def test_cpu_ticks() -> None:
    stat = "cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\n"
    assert machine_ticks(stat) == (170, 990)
    pid_stat = "4242 (python -m bot) S 1 4242 4242 0 -1 4194560 10 0 0 0 120 30 0 0 20 0 3"
    assert process_ticks(pid_stat) == (4242, 150)


def test_cpu_shares_of_the_bench_and_the_others() -> None:
    # 1000 ticks of all cores passed; 600 busy, 450 of them the bench's
    assert cpu_shares((100, 1000, 50), (700, 2000, 500)) == (0.45, pytest.approx(0.15))
    assert cpu_shares((0, 0, 0), (0, 0, 0)) == (0.0, 0.0)
    assert cpu_shares((0, 0, 100), (10, 100, 0)) == (0.0, pytest.approx(0.1))  # never negative


def test_conditions_say_when_the_machine_was_busy() -> None:
    quiet = conditions_text("0.50", (0.48, 0.02), 2, "")
    assert quiet == (
        "1-minute load average 0.50 before the stack started; during the measurement the bench's"
        " stack and client used 48% of the 2 cores' time, other processes 2% (a machine shared"
        " with other engineers)"
    )
    busy = conditions_text(
        "1.9", (0.5, 0.3), 2, "tests ran", started="the training part started", ours="rasa"
    )
    assert busy.startswith("busy: 1-minute load average 1.9 before the training part started;")
    assert "measurement rasa used 50%" in busy
    assert busy.endswith("other engineers); tests ran")


# --- the training part ----------------------------------------------------------------------------

JOB = [
    (0.0, "starting"),
    (1.0, "reading the training data"),
    (2.0, "training: loading data"),
    (10.0, "restored JiebaTokenizer"),
    (11.0, "training CountVectorsFeaturizer"),
    (12.0, "trained CountVectorsFeaturizer"),
    (13.0, "training DIET: epoch 1/40"),
    (90.0, "trained DIETClassifier"),
    (91.0, "restored MemoizationPolicy"),
    (91.5, "restored RulePolicy"),
    (92.0, "trained CountVectorsFeaturizer"),
    (95.0, "model saved"),
    (96.0, EVALUATING_CANDIDATE),
    (126.5, "evaluating the live model"),
    (126.6, "comparing with the live model"),
]


def test_stage_seconds_from_the_jobs_progress() -> None:
    assert stage_seconds(JOB, EVALUATING_CANDIDATE) == pytest.approx(30.5)
    assert stage_seconds(JOB, "evaluating the live model") == pytest.approx(0.1)
    assert stage_seconds(JOB, "comparing with the live model") is None  # nothing after it
    assert stage_seconds(JOB, "never reported") is None
    repeated = [(0.0, "a"), (1.0, "a"), (3.0, "b")]
    assert stage_seconds(repeated, "a") == 3.0


def test_cache_use_names_each_component_once() -> None:
    restored, trained = cache_use(JOB)
    assert restored == ("JiebaTokenizer", "MemoizationPolicy", "RulePolicy")
    assert trained == ("CountVectorsFeaturizer", "DIETClassifier")
    assert cache_use([]) == ((), ())


def test_training_time_of_some_components() -> None:
    events = [
        (0.0, "training MemoizationPolicy"),
        (0.5, "trained MemoizationPolicy"),
        (1.0, "training RulePolicy"),
        (2.5, "trained RulePolicy"),
        (3.0, "training CountVectorsFeaturizer"),
        (4.0, "trained CountVectorsFeaturizer"),
        (5.0, "training CountVectorsFeaturizer"),
        (7.0, "trained CountVectorsFeaturizer"),
        (8.0, "trained DIETClassifier"),  # its start was not seen
    ]
    assert training_time(events, ("MemoizationPolicy", "RulePolicy")) == 2.0
    assert training_time(events, ("CountVectorsFeaturizer", "DIETClassifier")) == 3.0
    assert training_time(events, ()) == 0.0


def test_minutes() -> None:
    assert seconds_text(0.4) == "<1"
    assert seconds_text(2.6) == "3"
    assert minutes(184.4) == "3 min 4 s"
    assert minutes(42) == "42 s"
    assert minutes(59.6) == "1 min 0 s"


# --- BENCHMARKS.md --------------------------------------------------------------------------------

MACHINE = Machine(
    "AMD EPYC", 2, 23.5, "Debian GNU/Linux 12 (bookworm)", "3.11.7", "3.10.13", "3.6.21"
)
RUN = RunInfo("2026-11-26 03:00 UTC", "make bench", "abc1234")
TRAIN_RUN = RunInfo("2026-11-26 02:00 UTC", "BENCH_TRAIN=1 make bench", "abc1230")


def gateway_run() -> GatewayRun:
    return GatewayRun(
        run=RUN,
        model="`models/current.tar.gz`, trained 2026-11-26 02:09 UTC",
        conditions="1-minute load average 0.50",
        setup="Setup: three servers.",
        levels=(level(1, 215.0, 200.0, 95, 100), level(10, 900.0, 880.0, 99, 100)),
        gateway_peak_mb=82.0,
        errors_by_kind=(("gateway: timeout", 2),),
    )


TRAINING = Training(
    run=TRAIN_RUN,
    conditions="busy: 1-minute load average 1.50",
    full_seconds=212.4,
    retrain_seconds=141.2,
    evaluate_seconds=28.3,
    other_job_seconds=2.6,
    deploy_seconds=11.9,
    intent="ask_tariff",
    examples=3,
    restored=("JiebaTokenizer", "MemoizationPolicy", "RulePolicy"),
    restored_took_seconds=1.6,
    retrained=("CountVectorsFeaturizer", "DIETClassifier"),
    macro_f1=0.951,
    live_macro_f1=0.948,
    guard_reasons=(),
)


def report(
    gateway: GatewayRun | CarriedGateway | None = None, trained: Training | None = None
) -> Report:
    return Report(RUN, MACHINE, gateway, trained)


def test_markdown_has_the_machine_figures_and_honest_verdicts() -> None:
    text = render_markdown(report(gateway_run()))
    assert "| CPU | AMD EPYC, 2 cores |" in text
    assert "| Rasa | 3.6.21 on Python 3.10.13 |" in text
    assert "| model | `models/current.tar.gz`, trained 2026-11-26 02:09 UTC |" in text
    assert "| measured | 2026-11-26 03:00 UTC by `make bench` at commit abc1234 |" in text
    assert "| conditions | 1-minute load average 0.50 |" in text
    assert (
        "Command: `make bench` at commit abc1234; this run measured the gateway; the training"
        " figures are not measured yet." in text
    )
    assert "| 1 | gateway → Rasa | 95 | 215.0 | 215.0 | 9.5 | 0 | 0 | 80 |" in text
    assert "| 10 | Rasa alone | 100 | 880.0 | 880.0 | 10.0 | 0 | 0 |  |" in text
    assert "| 1 | n/a | +15.0 ms | 95% |" in text
    assert "+15.0 ms / +20.0 ms at 1 / 10 customers | **not met** |" in text
    assert "95% / 99% at 1 / 10 customers | met |" in text
    assert "82 MB peak resident (VmHWM) | met |" in text
    assert "Errors by kind: gateway: timeout: 2." in text
    assert "## Training and an operator's retraining\n\nNot measured yet:" in text
    assert (
        "| an operator's retrain-to-deployed under 3 minutes | not measured | not measured |"
        in text
    )


def test_the_training_part_and_its_verdict() -> None:
    text = render_markdown(report(gateway_run(), TRAINING))
    assert "this run measured the gateway and the training." in text
    assert (
        "| measured | 2026-11-26 02:00 UTC by `BENCH_TRAIN=1 make bench` at commit abc1230 |"
        in (text)
    )
    assert "| full training of the shipped data | 212 |" in text
    assert "| retraining after 3 new examples of `ask_tariff` | 141 |" in text
    assert (
        "restored the dialogue policies (MemoizationPolicy, RulePolicy) and JiebaTokenizer from"
        " it (they took 2 s of the full training), trained CountVectorsFeaturizer,"
        " DIETClassifier again (their inputs include the NLU examples) |" in text
    )
    nothing = render_markdown(report(None, replace(TRAINING, restored=(), retrained=())))
    assert "restored nothing from it, trained nothing again" in nothing
    assert "macro-F1 0.951 (live model 0.948); the regression guard passed it |" in text
    assert "| deploying the candidate | 12 |" in text
    assert "| the rest of the job | <1 |" in render_markdown(
        report(None, replace(TRAINING, other_job_seconds=0.2))
    )
    assert "| **retrain-to-deployed** | **184** | the four rows above (3 min 4 s)" in text
    assert (
        "| an operator's retrain-to-deployed under 3 minutes | 184 s (3 min 4 s): retraining,"
        " evaluation, guard, deployment on a busy machine (see its conditions) | **not met** |"
        in text
    )
    quick = training_verdict(replace(TRAINING, retrain_seconds=100.0, conditions="quiet"))
    assert quick.met is True
    assert quick.measured == "143 s (2 min 23 s): retraining, evaluation, guard, deployment"
    busy = training_verdict(TRAINING)  # its conditions start with "busy: "
    assert busy.measured.endswith("deployment on a busy machine (see its conditions)")
    assert training_verdict(None).met is None


def test_training_figures_are_recorded_and_carried_over_as_such() -> None:
    measured = replace(TRAINING, guard_reasons=("macro-F1 dropped (-0.02 --)", "greet fell"))
    first = render_markdown(report(gateway_run(), measured))
    carried = previous_training(first)
    assert carried == replace(measured, carried_over=True)
    again = render_markdown(report(gateway_run(), carried))
    assert "this run measured the gateway; the training figures are carried over" in again
    assert "abc1230; carried over: not measured again by this run |" in again
    assert (
        "(see its conditions); recorded 2026-11-26 02:00 UTC on the data of then, not measured"
        " again on today's | not measured |" in again
    )
    assert training_verdict(carried).met is None  # data changes: no verdict from old figures
    assert (
        "the regression guard refused it: macro-F1 dropped (-0.02 --); greet fell. Deployed"
        " anyway with a written reason" in again
    )
    assert previous_training(again) == carried
    assert previous_training("no comment here") is None
    assert previous_training("<!-- training: 431 s | the old format | 2026-11-26 -->") is None
    assert previous_training('<!-- training: {"full_seconds": 1} -->') is None


def test_comment_json_never_ends_the_comment() -> None:
    text = comment_json({"a": "x -- y --> z", "b": -1})
    assert "--" not in text
    assert json.loads(text) == {"a": "x -- y --> z", "b": -1}


def test_gateway_figures_are_carried_over_verbatim_when_only_training_ran() -> None:
    first = render_markdown(report(gateway_run(), None))
    carried = previous_gateway(first)
    assert carried is not None
    assert carried.date == "2026-11-26 03:00 UTC"
    assert [v.met for v in carried.verdicts] == [False, True, True]
    assert carried.text in first
    later = Report(RunInfo("2026-11-27 09:00 UTC", "x", "def5678"), MACHINE, carried, TRAINING)
    text = render_markdown(later)
    assert "this run measured the training only; the gateway figures are carried over" in text
    assert "Not measured by this run: recorded 2026-11-26 03:00 UTC, carried over." in text
    assert carried.text in text
    assert (
        "| 95% / 99% at 1 / 10 customers; recorded 2026-11-26 03:00 UTC, not measured again | met |"
        in text
    )
    assert previous_gateway(text) == carried  # carried again, unchanged
    assert previous_gateway("no block") is None


def test_figures_an_older_format_cannot_carry_over_are_detected() -> None:
    older = f"intro\n{GENERATED_MARKER}\n| 1 | gateway → Rasa | 78 | 264.5 |\n"
    assert lost_gateway_figures(older)
    assert not lost_gateway_figures(merge_benchmarks(None, render_markdown(report(gateway_run()))))
    assert not lost_gateway_figures(merge_benchmarks(None, render_markdown(report())))
    assert not lost_gateway_figures("")


def test_nothing_measured_yet() -> None:
    text = render_markdown(report())
    assert "Not measured yet: `make bench` measures it." in text
    assert text.count("| not measured | not measured |") == 4


def test_merge_keeps_the_hand_written_intro() -> None:
    intro = "# Benchmarks\n\nWritten by hand.\n"
    first = merge_benchmarks(intro + "\n" + GENERATED_MARKER + "\n\nold figures\n", "new figures\n")
    assert first == f"{intro}\n{GENERATED_MARKER}\n\nnew figures\n"
    assert "old figures" not in first
    assert merge_benchmarks(first, "newer\n").count(GENERATED_MARKER) == 1
    fresh = merge_benchmarks(None, "figures\n")
    assert fresh.startswith(DEFAULT_INTRO.rstrip())
    assert fresh.endswith(f"{GENERATED_MARKER}\n\nfigures\n")


def test_terminal_summary() -> None:
    text = summary_text(gateway_run().levels, 82.0)
    assert "gateway → Rasa" in text
    assert "NOT MET  the gateway adds at most 10 ms" in text
    assert "met      gateway memory under 150 MB: 82 MB" in text
    lines = training_summary(TRAINING).splitlines()
    assert lines[0] == "full training of the shipped data: 212 s"
    assert lines[1] == (
        "retraining 141 s + evaluation 28 s + rest of the job 3 s + deployment 12 s"
        " (the guard passed the candidate)"
    )
    assert lines[2].startswith("NOT MET  an operator's retrain-to-deployed under 3 minutes: 184 s")


def test_command_line_shows_how_it_ran_but_not_the_note() -> None:
    argv = ["--duration", "30", "--note", "a long story"]
    assert command_line(argv, make=False, trained=False) == (
        "python -m scripts.bench --duration 30 --note …"
    )
    assert command_line(["--note=x y", "--output", "a b.md"], make=False, trained=False) == (
        "python -m scripts.bench --note=… --output 'a b.md'"
    )
    assert command_line([], make=True, trained=True) == "BENCH_TRAIN=1 make bench"
    assert command_line(["--rounds", "4"], make=True, trained=False) == (
        "make bench BENCH_ARGS='--rounds 4'"
    )


def test_notes_flag_noise_and_degraded_answers() -> None:
    assert notes([level(1, 205.0, 200.0, 100, 100)]) == []
    noisy = notes([level(1, 190.0, 200.0, 100, 100), level(10, 900.0, 880.0, 110, 100)])
    assert len(noisy) == 2
    assert noisy[0].startswith("At 1 and 10 customer(s) the gateway path came out ahead")
    assert noisy[1].startswith("At 10 customers the customers queue for Rasa")
    degraded = Level(
        50,
        path_run(GATEWAY, [20000.0], 10.0, errors_by_kind=(("degraded (系统繁忙)", 20),)),
        path_run(RASA, [17000.0, 17000.0], 10.0),
    )
    (note,) = notes([degraded])
    assert "answered '系统繁忙' 20 times" in note
    # customers queueing for Rasa: the p50 difference there is the throughput ratio as time
    (queue,) = notes([level(1, 205.0, 200.0, 100, 100), level(10, 1900.0, 1800.0, 90, 100)])
    assert queue.startswith("At 10 customers the customers queue for Rasa (its p50 there is 9×")
    assert "implies +200 ms at 10 customers" in queue
    assert "Rasa alone took 17.0 s at p95" in note
