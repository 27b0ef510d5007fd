"""Chinese line breaking: closing punctuation never starts a wrapped line (the render test
checks the same on every real screen)."""
from screens.typesetting import keep_punctuation_off_line_starts


def test_lines_that_need_nothing_are_left_alone():
    assert keep_punctuation_off_line_starts(["请用手遮挡输入。", "工作人员不会询问您的密码。"]) is None
    assert keep_punctuation_off_line_starts(["one line。"]) is None
    assert keep_punctuation_off_line_starts([]) is None


def test_a_lone_mark_takes_the_character_before_it_down():
    assert keep_punctuation_off_line_starts(["工作人员不会询问您的密码", "。"]) == "工作人员不会询问您的密\n码。"


def test_a_run_of_marks_takes_down_the_first_character_that_is_not_one():
    assert keep_punctuation_off_line_starts(["证件号后六位）", "，请换一个。"]) == "证件号后六\n位），请换一个。"


def test_every_line_is_mended_and_a_line_is_never_emptied():
    assert keep_punctuation_off_line_starts(["甲乙", "。丙丁", "，戊"]) == "甲\n乙。丙\n丁，戊"
    assert keep_punctuation_off_line_starts(["甲", "。"]) is None   # nothing to carry down
