"""Line breaking by the typesetting rules (screens/typesetting.py): closing punctuation never
starts a wrapped line, a paragraph never ends in a lone character, an English word is never
broken (the render test checks the same on every real screen)."""
from screens.typesetting import broken_word, faults, mend

SOFT = [True] * 4    # every line wraps into the next


def test_lines_that_need_nothing_are_left_alone():
    assert mend(["请用手遮挡输入。", "工作人员不会询问您的密码。"], SOFT) is None
    assert mend(["one line。"], SOFT) is None
    assert mend([], SOFT) is None
    assert faults(["请用手遮挡输入。", "工作人员不会询问您的密码。"], [True, False], "请用手遮挡输入。工作人员不会询问您的密码。") == []


def test_a_lone_mark_takes_the_character_before_it_down():
    # ... and "码。" would still end the paragraph alone: the character before it goes too.
    assert mend(["工作人员不会询问您的密码", "。"], SOFT) == "工作人员不会询问您的\n密码。"


def test_a_run_of_marks_takes_down_the_first_character_that_is_not_one():
    assert mend(["证件号后六位）", "，请换一个。"], SOFT) == "证件号后六\n位），请换一个。"


def test_every_line_is_mended_and_a_line_is_never_emptied():
    assert mend(["甲乙", "。丙丁", "，戊"], SOFT) == "甲\n乙。丙\n丁，戊"
    assert mend(["甲", "。"], SOFT) is None   # nothing to carry down


def test_a_lone_last_character_takes_the_one_before_it():
    assert faults(["挂失·补卡·启用一次", "办"], [True, False], "挂失·补卡·启用一次办") == ["line 2 holds one character, '办'"]
    assert mend(["挂失·补卡·启用一次", "办"], [True, False]) == "挂失·补卡·启用一\n次办"


def test_a_lone_character_with_its_closing_mark_is_still_alone():
    text = "请用手遮挡输入。工作人员不会询问您的密码。"
    assert faults(["请用手遮挡输入。工作人员不会询问您的密", "码。"], [True, False], text) == \
        ["line 2 holds one character, '码。'"]
    assert mend(["请用手遮挡输入。工作人员不会询问您的密", "码。"], [True, False]) == "请用手遮挡输入。工作人员不会询问您的\n密码。"
    assert faults(["您的密码", "已修改。"], [True, False], "您的密码已修改。") == []


def test_a_word_before_a_lone_character_goes_down_whole():
    assert mend(["导出日志到U", "盘"], [True, False]) == "导出日志到\nU盘"
    assert mend(["请插入USB", "盘"], [True, False]) == "请插入\nUSB盘"


def test_a_single_character_of_its_own_paragraph_is_no_orphan():
    # "8" on a key, or a line that was written alone, is not a wrapped line's end.
    assert faults(["8"], [False], "8") == []
    assert faults(["请确认", "是"], [False, False], "请确认\n是") == []
    assert mend(["请确认", "是"], [False, False]) is None


def test_an_english_word_split_across_lines_is_a_fault_mend_leaves_to_a_smaller_size():
    # Kivy drops the space where it wraps: the text the lines came from tells the two apart.
    assert broken_word(["Englis", "h"], [True, False], "English") == 0
    assert any("word is broken" in f for f in faults(["Englis", "h"], [True, False], "English"))
    assert broken_word(["Large text", "is on"], [True, False], "Large text is on") is None
    assert broken_word(["Large", "text is", "on"], [True, True, False], "Large text is on") is None
    assert broken_word(["Large text", "is o", "n"], [True, True, False], "Large text is on") == 1
    assert broken_word(["SAM 05010000", "2010"], [True, False], "SAM 050100002010") == 0   # a number too
    assert broken_word(["请输入6", "位密码"], [True, False], "请输入6位密码") is None         # Chinese breaks anywhere
    # The lone "h" is not pulled down with a letter: that would break the word elsewhere.
    assert mend(["Englis", "h"], [True, False]) is None
