from harmony import HarmonyContext


def test_context_migrates_and_records_activity(harmony_context: HarmonyContext) -> None:
    entry = harmony_context.activity.record("smoke.test", "ok", {"n": 1})
    assert harmony_context.activity.list(type="smoke.test")[0] == entry
