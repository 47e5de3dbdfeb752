from core.text import normalize_whitespace, split_sentences


def test_splits_plain_sentences():
    assert split_sentences("It rains. It pours! Does it stop? Yes.") == ["It rains.", "It pours!", "Does it stop?", "Yes."]


def test_abbreviations_initials_and_decimals_do_not_end_sentences():
    text = "Dr. Smith uses e.g. Python, i.e. a language. J. Doe measured 3.14 m at 5 p.m. Then he left."
    assert split_sentences(text) == [
        "Dr. Smith uses e.g. Python, i.e. a language.",
        "J. Doe measured 3.14 m at 5 p.m. Then he left.",
    ]


def test_figure_references_and_quotes():
    assert split_sentences('See Fig. 3 for details. He said "Stop." Then left.') == [
        "See Fig. 3 for details.",
        'He said "Stop."',
        "Then left.",
    ]


def test_lowercase_after_period_is_not_a_new_sentence():
    assert split_sentences("The value of x. is odd") == ["The value of x. is odd"]


def test_bullets_and_numbered_items_stand_alone():
    text = "Key ideas\n• Gradient descent\n• Backpropagation computes gradients\n1. First step. Then more.\n2) Second"
    assert split_sentences(text) == [
        "Key ideas",
        "• Gradient descent",
        "• Backpropagation computes gradients",
        "1. First step.",
        "Then more.",
        "2) Second",
    ]


def test_wrapped_prose_lines_are_joined_but_slide_labels_are_not():
    text = (
        "Given a set of data points associated to a set of outcomes, we\n"
        "want to build a classifier that predicts y from x.\n"
        "Rules\nData\nAnswers"
    )
    assert split_sentences(text) == [
        "Given a set of data points associated to a set of outcomes, we want to build a classifier that predicts y from x.",
        "Rules",
        "Data",
        "Answers",
    ]


def test_markdown_headings_and_paragraphs():
    text = "# Week 1\nIntro to the course and what we will learn this term.\n\nSecond paragraph here"
    assert split_sentences(text) == ["# Week 1", "Intro to the course and what we will learn this term.", "Second paragraph here"]


def test_empty_input():
    assert split_sentences("") == []
    assert split_sentences(" \n\n\t ") == []


def test_normalize_whitespace_keeps_paragraphs_and_strips_controls():
    raw = "a\r\n\x11\r\nb\x02c\r\n\r\n\r\n\r\nd\t\te\xa0f\u200bg\x00h  "
    assert normalize_whitespace(raw) == "a\nb c\n\nd e fg h"


def test_a_long_text_splits_into_its_sentences():
    text = "This is a sentence about neural networks, e.g. CNNs. " * 20000
    assert split_sentences(text) == ["This is a sentence about neural networks, e.g. CNNs."] * 20000
