"""Synthetic archives of any size, for benchmarks and round-trip tests.

The mix imitates a real school: several categories per student now and then,
one-to-many mentors, records spread over six terms, evaluations once a term.
Names are assembled from syllable pools, so no real person is described.
Output is deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import typing
from pathlib import Path

from generator.archive.schema import RECORD_KINDS, reference, unwrap

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于"
    "杜叶程魏苏吕丁任沈姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江阎薛尹段雷"
    "黎史龙陶贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "子涵欣怡梓轩浩宇语桐雨泽思远佳琪嘉怡俊杰明轩晨曦雅静一诺宇航若曦文博可馨梦瑶天佑"
    "志豪婉清书瑶皓然紫萱鹏飞晓东立新海燕春燕秋菊冬梅国强建华"
)
KINDS = ["建档立卡贫困家庭", "农村低保", "特困供养"]
CATEGORY_WEIGHTS = {
    "poverty": 5,
    "left_behind": 4,
    "single_parent": 2,
    "divorced": 2,
    "dropout_risk": 1,
    "disability": 1,
}
# How often each kind occurs; a kind registered without a weight here (a school's own) is
# written from its declaration (``_declared``), as often as a 心理辅导 session.
TYPE_WEIGHTS = {"talk": 60, "home_visit": 30, "activity": 6, "aid": 4, "counselling": 1}
PLACES = ["南岭镇", "石桥乡", "青溪镇", "白沙乡", "龙湾镇", "东山乡", "大坡镇", "新村乡"]
OPENINGS = [
    "今天和孩子在操场边聊了二十分钟",
    "晚自习前约孩子到办公室谈心",
    "午饭后在食堂门口碰到孩子,顺便聊了几句",
    "周末打电话给孩子,了解在家的情况",
    "课间找孩子了解最近的学习",
    "放学后陪孩子在校园里走了一圈",
]
MIDDLES = [
    "孩子说数学最近进步不少,但英语单词总是记不住",
    "提到宿舍同学相处融洽,晚上能按时休息",
    "说起父母在外地打工,想家的时候会偷偷哭",
    "对即将到来的月考有些紧张,担心排名下降",
    "讲到周末帮家里干农活,作业只能晚上补",
    "主动说想参加学校的篮球队,需要家长同意",
    "表示最近睡眠不好,上课容易走神",
    "谈到和奶奶相依为命,很想早点长大分担家务",
    "说食堂的饭菜可口,饭卡里的补助够用",
    "担心家里人生病,学费的事情让他睡不着",
]
CLOSINGS = [
    "我们约定下周再聊一次,看看计划执行得怎样",
    "我提醒孩子有困难随时来找老师",
    "我把情况告诉了班主任,请大家多留意",
    "最后鼓励孩子坚持每天整理错题",
    "约定每天晚上读半小时课外书",
    "已把需要的学习资料送到孩子手里",
]
VISITS = [
    "家中房屋整洁,祖母身体尚可",
    "家长刚从外地回来,对孩子的进步很满意",
    "家里今年收成一般,经济仍然紧张",
    "父亲在工地受了轻伤,正在家休养",
    "母亲在镇上打零工,收入不稳定",
    "家里新装了自来水,生活条件有所改善",
]


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return rng.choice(SURNAMES) + given


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _terms() -> list[tuple[str, str, dt.date, dt.date]]:
    out = []
    for year in (2023, 2024, 2025):
        out.append(
            (f"{year}-fall", f"{year}—{year + 1}学年第一学期", dt.date(year, 9, 1), dt.date(year + 1, 1, 15))
        )
        out.append(
            (
                f"{year + 1}-spring",
                f"{year}—{year + 1}学年第二学期",
                dt.date(year + 1, 2, 23),
                dt.date(year + 1, 7, 3),
            )
        )
    return out


def _school(out: Path, leaders: list[str]) -> None:
    lines = ["name: 合成示例中学", "leadership:"]
    roles = ["leader", "deputy", "deputy", "office"]
    lines += [f"  - {{teacher: {t}, role: {r}}}" for t, r in zip(leaders, roles, strict=True)]
    lines.append("terms:")
    for tid, name, start, end in _terms():
        lines.append(f"  - {{id: {tid}, name: {name}, start: {start}, end: {end}}}")
    lines.append("categories:")
    names = {
        "poverty": "贫困家庭学生",
        "left_behind": "留守儿童",
        "single_parent": "单亲家庭学生",
        "divorced": "离异家庭学生",
        "dropout_risk": "有叛逆厌学和辍学倾向学生",
        "disability": "残疾学生",
    }
    for key, name in names.items():
        kinds = f"[{', '.join(KINDS)}]" if key == "poverty" else "[]"
        talk = "week" if key == "poverty" else "month"
        lines.append(
            f"  {key}: {{name: {name}, kinds: {kinds}, rules: {{talk: {talk}, "
            "home_visit: month, evaluation: term}}"
        )
    (out / "school.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def synthesize(out: Path, students: int, records_per_student: int, seed: int = 1) -> None:
    """Write an archive of ``students`` students with ``records_per_student`` records each."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_classes = max(3, -(-students // 25))
    grades = ["高一", "高二", "高三"]
    teachers = [f"T{i:04d}" for i in range(1, max(12, n_classes + students // 6) + 1)]
    _school(out, teachers[:4])
    (out / "teachers.yml").write_text(
        "".join(
            f"- {{id: {t}, name: {_name(rng)}, roles: [mentor{', head_teacher' if i < n_classes else ''}"
            f"{', counsellor' if i == 0 else ''}], git_user: user{t.lower()}}}\n"
            for i, t in enumerate(teachers[4:])
        )
        + "".join(f"- {{id: {t}, name: {_name(rng)}, roles: [leader]}}\n" for t in teachers[:4]),
        encoding="utf-8",
    )
    classes, heads = [], {}
    for i in range(n_classes):
        grade = grades[i % 3]
        cid = f"C{i + 1:03d}"
        classes.append(cid)
        head = heads[cid] = teachers[4 + i % (len(teachers) - 4)]
        (out / "classes.yml").open("a", encoding="utf-8").write(
            f"- {{id: {cid}, name: {grade}({i // 3 + 1})班, grade: {grade}, head_teacher: {head}}}\n"
        )
    terms = _terms()
    members: dict[str, list[str]] = {}
    for n in range(students):
        sid, cls = f"S{n + 1:06d}", rng.choice(classes)
        members.setdefault(cls, []).append(sid)
        _student(out, rng, sid, cls, teachers[4:], terms, records_per_student)  # teachers[4]: counsellor
    _group_activities(out, rng, members, heads, terms)


def _group_activities(
    out: Path,
    rng: random.Random,
    members: dict[str, list[str]],
    heads: dict[str, str],
    terms: list[tuple[str, str, dt.date, dt.date]],
) -> None:
    """One class meeting a term for each class's students (activities/): a group record."""
    folder = out / "activities"
    folder.mkdir(exist_ok=True)
    for cls, sids in sorted(members.items()):
        for tid, _, start, end in terms:
            if len(sids) < 2:
                continue
            date = start + dt.timedelta(days=rng.randrange((end - start).days + 1))
            listed = ", ".join(sorted(rng.sample(sids, k=min(len(sids), 12))))
            (folder / f"{date}-{cls.lower()}-{tid}.md").write_text(
                f"---\ntype: activity\ndate: {date}\nby: {heads[cls]}\nkind: 励志教育\n"
                f"theme: 主题班会\nstudents: [{listed}]\n---\n"
                f"{rng.choice(OPENINGS)}。{rng.choice(CLOSINGS)}。\n",
                encoding="utf-8",
            )


def _student(
    out: Path,
    rng: random.Random,
    sid: str,
    cls: str,
    mentors: list[str],
    terms: list[tuple[str, str, dt.date, dt.date]],
    n_records: int,
) -> None:
    sdir = out / "students" / sid
    (sdir / "records").mkdir(parents=True, exist_ok=True)
    start = terms[0][2]
    keys = rng.sample(list(CATEGORY_WEIGHTS), k=rng.choice((1, 1, 1, 2)))
    mentor = rng.choice(mentors)
    mode = rng.choice(("one_to_one", "one_to_one", "one_to_many"))
    cats = "".join(
        f"  - {{key: {k}, since: {start}{', kind: ' + rng.choice(KINDS) if k == 'poverty' else ''}}}\n"
        for k in keys
    )
    birth = dt.date(2008 + rng.randrange(3), rng.randrange(1, 13), rng.randrange(1, 28))
    phone = f"139{rng.randrange(10**8):08d}"
    (sdir / "profile.yml").write_text(
        f"id: {sid}\nname: {_name(rng)}\ngender: {rng.choice('男女')}\nbirth_date: {birth}\n"
        f"class: {cls}\ncategories:\n{cats}mentors:\n"
        f"  - {{teacher: {mentor}, since: {start}, mode: {mode}}}\n"
        f'guardians:\n  - {{relation: 母亲, name: {_name(rng)}, phone: "{phone}", '
        f"lives_with_student: true}}\naddress: 云溪县{rng.choice(PLACES)}{rng.randrange(1, 30)}号\n",
        encoding="utf-8",
    )
    (sdir / "plan.md").write_text(
        f"---\nterm: {terms[-1][0]}\nproblems: [学习基础薄弱]\ngoals: {{short_term: [按时完成作业]}}\n"
        f"measures:\n  - {{kind: 学业, content: 每周辅导一次, owner: {mentor}}}\n---\n"
        f"{rng.choice(MIDDLES)}。{rng.choice(CLOSINGS)}。\n",
        encoding="utf-8",
    )
    _records(sdir / "records", rng, mentor, mentors[0], terms, n_records)


def _records(
    rdir: Path,
    rng: random.Random,
    mentor: str,
    counsellor: str,
    terms: list[tuple[str, str, dt.date, dt.date]],
    n: int,
) -> None:
    used: set[str] = set()
    evaluations = [(tid, end) for tid, _, _, end in terms[:-1]][: max(0, min(len(terms) - 1, n // 10))]
    kinds = {k: TYPE_WEIGHTS.get(k, 1) for k, kind in RECORD_KINDS.items() if k != "evaluation"}
    types, weights = list(kinds), list(kinds.values())
    for i in range(n):
        if i < len(evaluations):
            tid, end = evaluations[i]
            date, rtype = end - dt.timedelta(days=rng.randrange(0, 10)), "evaluation"
        else:
            tid, _, start, end = rng.choice(terms)
            date = start + dt.timedelta(days=rng.randrange((end - start).days + 1))
            rtype = rng.choices(types, weights)[0]
        name = f"{date}-{rtype}"
        k = 2
        while name in used:
            name, k = f"{date}-{rtype}-{k}", k + 1
        used.add(name)
        by = counsellor if RECORD_KINDS[rtype].need_to_know else mentor
        (rdir / f"{name}.md").write_text(_record(rng, rtype, date, by, tid), encoding="utf-8")


def _record(rng: random.Random, rtype: str, date: dt.date, by: str, term: str) -> str:
    head = f"---\ntype: {rtype}\ndate: {date}\nby: {by}\n"
    body = f"{rng.choice(OPENINGS)}。{rng.choice(MIDDLES)}。{rng.choice(MIDDLES)}。{rng.choice(CLOSINGS)}。\n"
    if rtype == "talk":
        mode = rng.choice(("in_person", "in_person", "phone"))
        head += f"mode: {mode}\ntopic: {_q(rng.choice(MIDDLES)[:12])}\n"
    elif rtype == "home_visit":
        head += (
            f"mode: {rng.choice(('in_person', 'phone'))}\nmet: [母亲]\n"
            f"family_situation: {_q(rng.choice(VISITS))}\n"
        )
    elif rtype == "evaluation":
        head += (
            f"term: {term}\nstudy: 成绩稳定\nmental_health: 情绪平稳\nbehaviour: 遵守纪律\n"
            f"goals_met: {rng.choice(('达成', '部分达成'))}\ncontinue: true\n"
        )
    elif rtype == "activity":
        head += f"theme: 主题班会\nkind: {rng.choice(('励志教育', '感恩教育', '心理健康教育'))}\n"
    elif rtype == "aid":
        head += f"item: 国家助学金\namount: {rng.choice((500, 1000, 1250))}\n"
    elif rtype == "counselling":
        risk = rng.choice(("低", "低", "中", "高"))
        head += f"way: 个别\ntopic: {_q(rng.choice(MIDDLES)[:12])}\nrisk: {risk}\n"
    else:
        head += _declared(rng, rtype, by, term)
    return f"{head}---\n{body}"


def _declared(rng: random.Random, rtype: str, by: str, term: str) -> str:
    """A kind known only by its declaration: each required field with a value of its type."""
    model = RECORD_KINDS[rtype].model
    lines = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key in ("type", "date", "by") or not info.is_required():
            continue
        annotation, ref = unwrap(info.annotation), reference(info)
        if ref in ("teacher", "term"):
            value = by if ref == "teacher" else term
        elif typing.get_origin(annotation) is typing.Literal:
            value = json.dumps(rng.choice(typing.get_args(annotation)), ensure_ascii=False)
        elif typing.get_origin(annotation) is list:
            value = f"[{_q(rng.choice(MIDDLES)[:8])}]"
        elif annotation is bool:
            value = "true"
        elif annotation in (int, float):
            value = "1"
        else:
            value = _q(rng.choice(MIDDLES)[:12])
        lines.append(f"{key}: {value}\n")
    return "".join(lines)
