"""Settings: defaults, nested and dotted keys, bad values reported and replaced by defaults."""

from rusta_lsp.config import RustaConfig, memory_uri, read_config, to_options


def test_defaults_match_design():
    config, problems = read_config(None)
    assert problems == []
    assert config.abstain.target_precision == 0.95
    assert config.device == "auto" and config.heartbeat.enabled and config.heartbeat.idle_seconds == 20
    assert config.cargo.check_args == ["check", "--workspace", "--all-targets"]


def test_nested_and_dotted_keys():
    config, problems = read_config({"memory": {"uri": "s3://team/rusta"}, "abstain.targetPrecision": 0.9,
                                    "heartbeat": {"idleSeconds": 5, "cpuSecondsPerHour": 60}})
    assert problems == []
    assert config.memory.uri == "s3://team/rusta"
    assert config.abstain.target_precision == 0.9
    assert (config.heartbeat.idle_seconds, config.heartbeat.cpu_seconds_per_hour) == (5, 60)


def test_bad_options_are_reported_and_defaults_kept():
    config, problems = read_config({"device": "tpu", "abstain": {"targetPrecision": "high"},
                                    "heartbeat": {"enabled": "yes", "idleSeconds": 3},
                                    "cargo": {"checkArgs": "check"}, "colour": "blue", "model": 7})
    assert config.device == "auto"
    assert config.abstain.target_precision == 0.95
    assert config.heartbeat.enabled is True and config.heartbeat.idle_seconds == 3
    assert config.cargo.check_args == ["check", "--workspace", "--all-targets"]
    joined = "\n".join(problems)
    for key in ("device", "abstain.targetPrecision", "heartbeat.enabled", "cargo.checkArgs", "colour", "model"):
        assert key in joined, key
    assert len(problems) == 6


def test_options_round_trip_and_memory_location(tmp_path, monkeypatch):
    config, _ = read_config({"abstain": {"targetPrecision": 0.8}})
    again, problems = read_config(to_options(config))
    assert problems == [] and again == config
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    uri = memory_uri(RustaConfig(), tmp_path / "ws")
    assert uri.startswith(str(tmp_path / "cache" / "rusta" / "memory" / "ws-"))
    assert memory_uri(RustaConfig(), tmp_path / "other") != uri


def test_storage_options_are_strings_and_a_bad_one_is_not_echoed():
    config, problems = read_config({"memory": {"uri": "s3://b/p", "storageOptions": {
        "endpoint": "http://127.0.0.1:9000", "allow_http": True, "timeout": 30}}})
    assert problems == []
    assert config.memory.storage_options == {"endpoint": "http://127.0.0.1:9000", "allow_http": "true", "timeout": "30"}
    config, problems = read_config({"team.storageOptions": {"aws_secret_access_key": ["s3cr3t-value"]}})
    [problem] = problems
    assert problem.startswith("team.storageOptions:") and "s3cr3t-value" not in problem
    assert config.team.storage_options == {}
