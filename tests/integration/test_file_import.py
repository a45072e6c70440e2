"""`zhongshu import` of realistic 12345 and enforcement exports, on the real broker + PostgreSQL.

Each test imports through the CLI beside a running hub (`zhongshu up`), then reads the
topic itself: accepted rows are on it exactly once, keyed and headed like HTTP intake; a
second import of the same file appends nothing.
"""
from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from connectors.uscc import make_uscc
from schemas.codec import Codec, header_dict

pytestmark = pytest.mark.integration

HEADERS = ["工单编号", "受理时间", "来电渠道", "诉求类型", "诉求主题", "诉求内容", "被反映对象名称", "统一社会信用代码",
           "地址", "所属区划", "来电人姓名", "联系电话", "承办单位", "办理状态", "回访满意度"]


def new_uscc() -> str:
    return make_uscc("91330203MA2A" + uuid.uuid4().hex[:5].upper().replace("I", "1").replace("O", "0"))


def wrong_check_character(uscc: str) -> str:
    return uscc[:-1] + ("1" if uscc[-1] != "1" else "2")


def order_row(order_id: str, uscc: str, **over) -> dict:
    row = {"工单编号": order_id, "受理时间": "2026-05-06 09:30:00+08:00", "来电渠道": "电话", "诉求类型": "投诉",
           "诉求主题": "重复检查", "诉求内容": "来电人反映某执法部门一个月内三次到店检查，影响正常经营。",
           "被反映对象名称": "宁波市海曙区某某餐饮有限公司", "统一社会信用代码": uscc, "地址": "宁波市海曙区中山西路1号",
           "所属区划": "330203", "来电人姓名": "张三", "联系电话": "13805740000", "承办单位": "海曙区市场监管局",
           "办理状态": "受理", "回访满意度": "满意"}
    row.update(over)
    return row


def work_orders(run: str) -> tuple[list[dict], dict[str, str], list[str]]:
    """Six good orders (one of them twice), four bad ones: (rows, good order id → uscc, bad order ids)."""
    good = {f"GD{run}{i:03d}": new_uscc() for i in range(6)}
    rows = [order_row(oid, uscc, 来电渠道=["电话", "网站", "APP", "微信", "电话", "其他"][i],
                      诉求类型=["投诉", "举报", "咨询", "建议", "求助", "投诉"][i])
            for i, (oid, uscc) in enumerate(good.items())]
    rows.insert(3, dict(rows[1]))  # the same order exported twice: appended once
    bad = {
        f"GD{run}900": {"统一社会信用代码": wrong_check_character(new_uscc())},
        f"GD{run}901": {"受理时间": "2026-05-06 10:00:00"},
        f"GD{run}902": {"诉求类型": "吐槽"},
        f"GD{run}903": {"诉求内容": ""},
    }
    for i, (oid, over) in enumerate(bad.items()):
        rows.insert(2 * i + 1, order_row(oid, new_uscc(), **over))
    return rows, good, list(bad)


def write_csv(path: Path, headers: list[str], rows: list[dict], encoding: str, title: str | None = None) -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    if title:
        w.writerow([title])
    w.writerow(headers)
    for row in rows:
        w.writerow([row.get(h, "") for h in headers])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def read_topic(bootstrap: str, topic: str, prefix: str, timeout: float = 60) -> list:
    """Messages of `topic` (up to its current end) whose ce_id starts with `prefix`."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        found = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in consumer.poll(timeout_ms=1000).values():
                found.extend(m for m in batch if header_dict(m.headers).get("ce_id", "").startswith(prefix))
        return found
    finally:
        consumer.close()


def import_file(hub, *args: str):
    done = hub.cli("import", *args, "--json", check=False)
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else None
    return done, summary


def rejects(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "rejects file must be UTF-8 with BOM (Excel)"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_csv_export_of_work_orders_is_imported_once_with_every_bad_row_explained(hub, encoding):
    run = uuid.uuid4().hex[:8].upper()
    rows, good, bad = work_orders(run)
    name = f"12345-{encoding}-{run}.csv"
    path = write_csv(hub.cwd / name, HEADERS, rows, encoding)
    rejects_path = hub.cwd / f"rejects-{run}.csv"

    done, summary = import_file(hub, "workorder", str(path), "--rejects", str(rejects_path))
    assert done.returncode == 1, done.stderr
    assert summary["encoding"] == encoding and summary["topic"] == "hotline.workorders"
    assert (summary["read"], summary["accepted"], summary["duplicates"], summary["rejected"]) == (11, 6, 1, 4)
    assert "回访满意度" in done.stderr  # a column that maps to no field is named, not silently dropped

    msgs = read_topic(hub.bootstrap, "hotline.workorders", f"{name}#")
    counts = Counter(header_dict(m.headers)["ce_id"] for m in msgs)
    assert counts == Counter({f"{name}#{oid}/受理": 1 for oid in good})
    codec = Codec()
    for m in msgs:
        _, value = codec.decode(m.value)
        assert m.key == good[value["order_id"]].encode()  # keyed by the subject's USCC, like HTTP intake
        assert value["received_at"] == "2026-05-06T09:30:00+08:00"
        assert "13805740000" not in repr(value) and "张三" not in repr(value)

    table = rejects(rejects_path)
    assert table[0] == HEADERS + ["拒收原因"]
    by_order = {r[0]: r for r in table[1:]}
    assert sorted(by_order) == sorted(bad) and len(table) == 5
    assert by_order[bad[0]][HEADERS.index("联系电话")] == "13805740000"  # the row as it was read
    reasons = {oid: r[-1] for oid, r in by_order.items()}
    assert "统一社会信用代码(subject.uscc)" in reasons[bad[0]] and "check character should be" in reasons[bad[0]]
    assert "受理时间(received_at): got '2026-05-06 10:00:00'" in reasons[bad[1]]
    assert "no UTC offset" in reasons[bad[1]] and "never guesses" in reasons[bad[1]]
    assert "诉求类型(category): got '吐槽', expected one of 咨询, 求助, 投诉, 举报, 建议" in reasons[bad[2]]
    assert "诉求内容(content): got (empty), expected a value (required field)" in reasons[bad[3]]

    again, summary = import_file(hub, "workorder", str(path), "--rejects", str(rejects_path))
    assert again.returncode == 1
    assert (summary["read"], summary["accepted"], summary["duplicates"], summary["rejected"]) == (11, 0, 7, 4)
    assert len(read_topic(hub.bootstrap, "hotline.workorders", f"{name}#")) == 6


def test_xlsx_export_with_a_title_row_and_excel_cells_reaches_the_enterprise_file(hub):
    import openpyxl

    run = uuid.uuid4().hex[:8].upper()
    uscc = new_uscc()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "工单"
    ws.append(["12345政务服务便民热线工单导出（2026年5月）"])
    ws.append(HEADERS)
    good = []
    for i in range(3):
        row = order_row(f"GD{run}{i:03d}", uscc, 受理时间=f"2026-05-0{i + 1}T08:15:00+08:00")
        row["联系电话"] = 13805740000 + i      # number cells, as Excel keeps them
        row["所属区划"] = 330203
        ws.append([row[h] for h in HEADERS])
        good.append(row["工单编号"])
    excel_time = order_row(f"GD{run}900", uscc, 受理时间=datetime(2026, 5, 6, 9, 30))
    ws.append([excel_time[h] for h in HEADERS])
    ws.append([None] * len(HEADERS))  # a blank line at the end of the sheet
    path = hub.cwd / f"工单导出-{run}.xlsx"
    wb.save(path)

    done, summary = import_file(hub, "workorder", str(path))
    assert done.returncode == 1, done.stderr
    assert summary["fmt"] == "xlsx" and summary["encoding"] is None
    assert (summary["read"], summary["accepted"], summary["duplicates"], summary["rejected"]) == (4, 3, 0, 1)
    default_rejects = hub.cwd / f"工单导出-{run}.rejects.csv"  # beside where the command ran
    assert summary["rejects_file"] == str(default_rejects)
    table = rejects(default_rejects)
    assert [r[0] for r in table[1:]] == [f"GD{run}900"]
    assert table[1][1] == "2026-05-06 09:30:00"
    assert "Excel date-time cell has no offset" in table[1][-1] and "never guesses" in table[1][-1]

    msgs = read_topic(hub.bootstrap, "hotline.workorders", f"{path.name}#")
    assert sorted(Codec().decode(m.value)[1]["order_id"] for m in msgs) == good

    hub.sync()
    r = hub.admin.get(f"/api/v1/enterprises/{uscc}")
    assert r.status_code == 200, r.text
    assert sorted(c["order_id"] for c in r.json()["complaints"]) == good
    assert "13805740000" not in r.text

    again, summary = import_file(hub, "workorder", str(path))
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (0, 3, 1)


CASE_HEADERS = ["案件编号", "事件", "处罚机关统一社会信用代码", "当事人类型", "统一社会信用代码", "当事人名称", "事项编码",
                "所属区划", "立案时间", "案件来源", "处罚决定书文号", "决定时间", "程序", "处罚种类", "罚款金额（元）", "情节",
                "违法行为类型", "法律依据", "是否首违", "是否已改正", "是否重大案件", "是否听证", "是否复杂案件"]


def test_case_export_money_cells_are_never_read_through_a_float(hub):
    import openpyxl

    run = uuid.uuid4().hex[:8].upper()
    agency = make_uscc("11330203MB" + uuid.uuid4().hex[:7].upper().replace("I", "1").replace("O", "0"))
    party = new_uscc()

    def filed(case_id):
        return {"案件编号": case_id, "事件": "立案", "处罚机关统一社会信用代码": agency, "当事人类型": "法人及非法人组织",
                "统一社会信用代码": party, "当事人名称": "宁波某某贸易有限公司", "事项编码": "330203-SC-001",
                "所属区划": "330203", "立案时间": "2026-03-02 10:00:00+08:00", "案件来源": f"JC-{run}"}

    def decided(case_id, fine):
        return {"案件编号": case_id, "事件": "处罚决定", "处罚决定书文号": f"甬海市监罚〔2026〕{case_id[-3:]}号",
                "决定时间": "2026-04-10T15:00:00+08:00", "程序": "普通", "处罚种类": "警告、罚款", "罚款金额（元）": fine,
                "情节": "一般", "违法行为类型": "虚假宣传", "法律依据": "《中华人民共和国广告法》第五十五条第一款",
                "是否首违": "否", "是否已改正": "是", "是否重大案件": "否", "是否听证": "否", "是否复杂案件": "否"}

    cases = [f"AJ{run}{i:03d}" for i in range(4)]
    rows = [filed(c) for c in cases] + [
        decided(cases[0], "1234.50"),     # text: decimal yuan
        decided(cases[1], 2000),          # a whole-number cell
        decided(cases[2], 1234.56),       # a fractional number cell: float-looking money, rejected
        decided(cases[3], "1.2345E+04"),  # scientific notation text, rejected by validation
    ]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(CASE_HEADERS)
    for row in rows:
        ws.append([row.get(h) for h in CASE_HEADERS])
    path = hub.cwd / f"cases-{run}.xlsx"
    wb.save(path)
    rejects_path = hub.cwd / f"case-rejects-{run}.csv"

    done, summary = import_file(hub, "case", str(path), "--rejects", str(rejects_path))
    assert done.returncode == 1, done.stderr
    assert (summary["read"], summary["accepted"], summary["rejected"]) == (8, 6, 2)
    table = rejects(rejects_path)
    reasons = {r[0]: r[-1] for r in table[1:]}
    assert sorted(reasons) == [cases[2], cases[3]]
    assert "罚款金额（元）(fine_amount): got 1234.56" in reasons[cases[2]] and "never a float" in reasons[cases[2]]
    assert "罚款金额（元）(fine_amount): got '1.2345E+04'" in reasons[cases[3]]

    msgs = read_topic(hub.bootstrap, "enforcement.cases", f"{path.name}#")
    codec = Codec()
    values = {header_dict(m.headers)["ce_id"]: (m.key, codec.decode(m.value)[1]) for m in msgs}
    assert sorted(values) == sorted([f"{path.name}#{c}/filed" for c in cases]
                                    + [f"{path.name}#{cases[0]}/decided", f"{path.name}#{cases[1]}/decided"])
    key, first = values[f"{path.name}#{cases[0]}/decided"]
    assert key == cases[0].encode() and first["fine_amount"] == Decimal("1234.50")
    assert first["penalty_types"] == ["警告", "罚款"] and first["corrected"] is True
    assert values[f"{path.name}#{cases[1]}/decided"][1]["fine_amount"] == Decimal("2000.00")
    assert values[f"{path.name}#{cases[0]}/filed"][1]["party"]["uscc"] == party


def test_clean_utf8_file_with_explicit_mapping_exits_0_and_again_0_with_only_duplicates(hub):
    run = uuid.uuid4().hex[:8].upper()
    headers = ["source_event_id", "order_id", "收件时间", "channel", "category", "topic", "content", "subject.name",
               "subject_uscc", "region_code", "来电人", "电话号码", "status", "备注"]
    rows = [{"source_event_id": f"EXT-{run}-{i}", "order_id": f"GD{run}{i}", "收件时间": "2026-05-07T11:00:00+08:00",
             "channel": "网站", "category": "举报", "topic": "无证经营", "content": "反映无证经营。",
             "subject.name": "某小店", "subject_uscc": new_uscc(), "region_code": "330203", "来电人": "王五",
             "电话号码": "0574-87000000", "status": "派单", "备注": "x"} for i in range(3)]
    path = write_csv(hub.cwd / f"plain-{run}.csv", headers, rows, "utf-8", title="导出")
    maps = ["--map", "收件时间=received_at", "--map", "来电人=complainant.name", "--map", "电话号码=complainant_phone",
            "--map", "备注="]
    done, summary = import_file(hub, "workorders", str(path), *maps, "--rejects", str(hub.cwd / f"none-{run}.csv"))
    assert done.returncode == 0, done.stderr
    assert summary["encoding"] == "utf-8" and summary["ignored_columns"] == []
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (3, 0, 0)
    assert rejects(hub.cwd / f"none-{run}.csv") == [headers + ["拒收原因"]]  # asked for, so written, empty
    ids = Counter(header_dict(m.headers)["ce_id"] for m in read_topic(hub.bootstrap, "hotline.workorders", f"EXT-{run}-"))
    assert ids == Counter({f"EXT-{run}-{i}": 1 for i in range(3)})  # the file's own ids, not derived ones

    again, summary = import_file(hub, "workorder", str(path), *maps)
    assert again.returncode == 0
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (0, 3, 0)
    assert summary["rejects_file"] is None


def test_usage_errors_exit_2_and_append_nothing(hub):
    run = uuid.uuid4().hex[:8].upper()
    rows, _good, _bad = work_orders(run)
    no_time = write_csv(hub.cwd / f"no-time-{run}.csv", [h for h in HEADERS if h != "受理时间"], rows, "utf-8")
    done = hub.cli("import", "workorder", str(no_time), check=False)
    assert done.returncode == 2 and "required field received_at" in done.stderr and "--map" in done.stderr
    assert hub.cli("import", "penalties", str(no_time), check=False).returncode == 2
    assert hub.cli("import", "workorder", str(hub.cwd / "missing.csv"), check=False).returncode == 2
    legacy = hub.cwd / f"old-{run}.xls"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    done = hub.cli("import", "workorder", str(legacy), check=False)
    assert done.returncode == 2 and ".xlsx or CSV" in done.stderr
    assert hub.cli("import", "workorder", str(no_time), "--batch", "0", check=False).returncode == 2
    assert read_topic(hub.bootstrap, "hotline.workorders", f"no-time-{run}") == []
