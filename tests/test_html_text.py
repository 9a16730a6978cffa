"""HTML -> text as mail clients write it: lines, blank lines and quotes where a reader sees them."""

from __future__ import annotations

from mailcrm.parse.html_text import html_to_text


def test_source_newlines_between_blocks_are_not_blank_lines() -> None:
    # Gmail/Apple Mail write one <div> per line; the newlines between the tags are layout.
    assert html_to_text("<div>Hello,</div>\n<div><br></div>\n<div>On Mon, Ivan &lt;</div>\n"
                        "<div>ivan@theatre.example&gt; wrote:</div>") == (
        "Hello,\n\nOn Mon, Ivan <\nivan@theatre.example> wrote:")
    assert html_to_text("<div>a</div><div>b</div>") == html_to_text("<div>a</div>\n  <div>b</div>") == "a\nb"


def test_paragraphs_and_double_breaks_are_blank_lines() -> None:
    assert html_to_text("<p>a</p>\n<p>b</p>") == "a\n\nb"
    assert html_to_text("a<br>\n<br>b") == "a\n\nb"
    assert html_to_text("<div>a</div>\n<div>&nbsp;</div>\n<div>b</div>") == "a\n\nb"  # an empty line typed


def test_outlook_msonormal_paragraphs_are_lines() -> None:
    html = ("<p class=MsoNormal>Ivan Petrov<o:p></o:p></p>\n<p class=MsoNormal>Director<o:p></o:p></p>\n"
            "<p class=MsoNormal>&nbsp;<o:p></o:p></p>\n<p class=\"MsoNormal\">Theatre<o:p></o:p></p>")
    assert html_to_text(html) == "Ivan Petrov\nDirector\n\nTheatre"


def test_blockquotes_become_quote_marks_and_pre_keeps_its_lines() -> None:
    assert html_to_text("<div>Yes.</div><blockquote>\n<div>Are you coming?</div>\n</blockquote>") == (
        "Yes.\n> Are you coming?")
    assert html_to_text("<pre>a\n  b</pre>") == "a\n  b"
