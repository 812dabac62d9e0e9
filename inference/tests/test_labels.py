import pytest

from inference.labels import LabelError, labels_clean


def test_labels_are_stripped_and_keep_their_order():
    assert labels_clean(["  cat", "dog  ", "Red car"]) == ["cat", "dog", "Red car"]


def test_two_hundred_labels_of_one_hundred_characters_are_accepted():
    labels = [f"{i:03d}" + "x" * 97 for i in range(200)]
    assert labels_clean(labels) == labels


def test_generator_input_is_accepted():
    assert labels_clean(label for label in ["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], "Give at least one label."),
        (["cat", "   "], "Label 2 is empty."),
        (["cat", "x" * 101], 'Label 2 ("xxxxxxxxxxxxxxxxxxxx...") is longer than 100 characters.'),
        (
            ["Cat", "dog", " cat "],
            'Label 3 ("cat") repeats label 1 (labels are compared ignoring case).',
        ),
        ([f"l{i}" for i in range(201)], "At most 200 labels are allowed."),
        (["cat", 3], "Label 2 is not text."),
        ("cat", "Labels must be a list of strings, not a single string."),
    ],
)
def test_bad_label_lists_say_what_to_fix(labels, message):
    with pytest.raises(LabelError) as excinfo:
        labels_clean(labels)
    assert str(excinfo.value) == message


def test_label_error_is_a_value_error():
    assert issubclass(LabelError, ValueError)
