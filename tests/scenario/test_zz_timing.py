import time, statistics
from support import Harness
def test_timing(claude_harness, fake_anthropic):
    h = claude_harness
    h.command("warm up printer")
    h.settle()
    thread = h.slack.messages("C1")[0]["ts"]
    t = []
    for i in range(10):
        s = time.perf_counter(); h.command(f"printer {i} offline"); t.append(time.perf_counter() - s)
    h.settle()
    print("command ms", [round(x*1000,1) for x in t])
    t = []
    for i in range(10):
        s = time.perf_counter(); h.reply(f"obs {i}", thread); t.append(time.perf_counter() - s)
        h.settle()
    print("reply ms", [round(x*1000,1) for x in t])
    t = []
    for i in range(10):
        fake_anthropic.reply_turn(summary="x", domain="other", confidence=0.5, questions=[{"text": "Q?", "options": ["A", "B"]}])
        h.reply(f"more {i}", thread); h.settle()
        ts, b = h.find_button("fp_answer")
        s = time.perf_counter(); h.click(b["action_id"], b["value"], message_ts=ts, thread_ts=thread); t.append(time.perf_counter() - s)
        h.settle()
    print("click ms", [round(x*1000,1) for x in t])
