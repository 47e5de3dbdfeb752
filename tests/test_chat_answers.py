"""What a student gets, with the real model (all-MiniLM-L6-v2, offline): definitions first,
"not covered" for what the material does not cover, follow-ups that use the previous turn."""
from __future__ import annotations

import pytest

from core.config import Settings
from core.services import build_services
from tests.factories import make_pdf, upload

BOOK = [
    "Chapter 5. Conditionals and recursion\n"
    "It is legal for one function to call another; it is also legal for a function to call itself. "
    "It may not be obvious why that is a good thing, but it turns out to be one of the most magical things "
    "a program can do. The execution of countdown begins with n=3, and since n is greater than 0, it "
    "outputs the value 3, and then calls itself.",
    "Infinite recursion\n"
    "If a recursion never reaches a base case, it goes on making recursive calls forever, and the program "
    "never terminates. What would happen if you called this function like this: countdown(-1)? "
    "Exercise 5.3: Write a function that draws a Koch curve with recursion.\n"
    "Traceback (most recent call last):\n"
    'File "countdown.py", line 3, in countdown\n'
    "RecursionError: maximum recursion depth exceeded",
    "Lists and tuples\n"
    "A list is a sequence of values that can be of any type. Lists are mutable: you can change, add and "
    "remove their elements after the list is created. A tuple is a sequence of values much like a list. "
    "The important difference is that tuples are immutable: once created, a tuple cannot be changed.",
    "Glossary\n"
    "recursion: The process of calling the function that is currently executing.\n"
    "recursive function: A function that calls itself, directly or through other functions.\n"
    "base case: A conditional branch in a recursive function that does not make a recursive call.\n"
    "tuple: An immutable sequence of elements.",
]
LECTURE = [
    "Text preprocessing\nTokenization splits running text into words and punctuation. Stemming reduces "
    "inflected words to a common stem, so that connect, connected and connection match.",
    "Language models\nAn n-gram language model estimates the probability of a word from the n-1 words "
    "before it. Smoothing gives unseen n-grams a small probability.",
]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    svc = build_services(Settings(data_dir=tmp_path_factory.mktemp("course"), embedder="minilm"), migrate=True)
    teacher = svc.accounts.register("prof@example.edu", "correct-horse-9", "Prof").actor()
    student = svc.accounts.register("student@example.edu", "battery-staple-7", "Stu").actor()
    klass = svc.classes.create(teacher, "Programming")
    assert upload(svc, teacher, klass.id, "thinkpython.pdf", make_pdf(BOOK)).ok
    assert upload(svc, teacher, klass.id, "nlp-lecture.pdf", make_pdf(LECTURE)).ok
    svc.classes.join(student, klass.join_code)
    return svc, student, klass.id


@pytest.mark.model
def test_what_is_x_is_answered_with_its_definition(course):
    svc, student, class_id = course
    answer = svc.chat.ask(student, class_id, "What is a recursive function?")
    assert answer.found
    assert answer.text.startswith("recursive function: A function that calls itself"), answer.text
    assert answer.citations[0].page == 4  # the glossary
    assert "What would happen" not in answer.text and "Traceback" not in answer.text
    assert "Exercise" not in answer.text and "RecursionError" not in answer.text


@pytest.mark.model
def test_comparison_says_what_differs(course):
    svc, student, class_id = course
    answer = svc.chat.ask(student, class_id, "List vs tuple?")
    assert answer.found and "immutable" in answer.text[:300], answer.text


@pytest.mark.model
def test_a_term_the_material_never_uses_is_not_defined_from_what_is_near_it(course):
    """The book covers functions on many pages, never decorators: close passages about functions are
    no definition of a decorator, whatever their scores."""
    svc, student, class_id = course
    for question in ("What is a Python decorator?", "What are function decorators?",
                     "What is the difference between a tuple and a decorator?"):
        answer = svc.chat.ask(student, class_id, question)
        assert not answer.found and answer.citations == [], (question, answer.text)
        assert "\u201cdecorator" in answer.text, answer.text  # the word the class never uses is named
    assert svc.chat.ask(student, class_id, "What is a recursive function?").found  # its words are all there


@pytest.mark.model
def test_not_covered_names_the_missing_word_and_shows_no_sources(course):
    svc, student, class_id = course
    answer = svc.chat.ask(student, class_id, "What is word2vec?")
    assert not answer.found and answer.citations == []
    assert "\u201cword2vec\u201d" in answer.text
    assert answer.to_dict()["found"] is False


@pytest.mark.model
def test_follow_up_uses_the_previous_question(course):
    svc, student, class_id = course
    svc.chat.clear_history(student, class_id)
    first = svc.chat.ask(student, class_id, "What is a tuple?")
    assert first.found and "immutable" in first.text
    follow = svc.chat.ask(student, class_id, "Can it be changed?")
    assert follow.found and follow.citations[0].page in (3, 4), follow
    assert "tuple" in follow.text.lower()
    # the same question with no previous turn is not about tuples
    svc.chat.clear_history(student, class_id)
    alone = svc.chat.ask(student, class_id, "Can it be changed?")
    assert not alone.found or "tuple" not in alone.text.lower()
