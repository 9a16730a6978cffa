"""Forward/quote header dates as clients really write them: every month, each client's format, many languages.

The month forms below are typed from CLDR (the data Gmail, Outlook, Apple Mail and Thunderbird localise
with): full genitive names for long formats, the "abbreviated" format width for Gmail's medium date, and
the other short spellings people and older clients use ("сен", "ноя", with and without the dot).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from mailcrm.parse.forward import find_forward_in_text
from mailcrm.parse.loose_date import parse_loose_date

MSK = dt.timezone(dt.timedelta(hours=3))
UTC = dt.timezone.utc

RU_GENITIVE = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()
RU_NOMINATIVE = "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь".split()
RU_GMAIL = "янв. февр. мар. апр. мая июн. июл. авг. сент. окт. нояб. дек.".split()  # CLDR ru abbreviated (format)
RU_STANDALONE = "янв. февр. март апр. май июнь июль авг. сент. окт. нояб. дек.".split()
RU_SHORT = "янв фев мар апр май июн июл авг сен окт ноя дек".split()
UK_GENITIVE = "січня лютого березня квітня травня червня липня серпня вересня жовтня листопада грудня".split()
UK_NOMINATIVE = "січень лютий березень квітень травень червень липень серпень вересень жовтень листопад грудень".split()
UK_GMAIL = "січ. лют. бер. квіт. трав. черв. лип. серп. вер. жовт. лист. груд.".split()
EN_FULL = "January February March April May June July August September October November December".split()
EN_SHORT = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

Fmt = Callable[[int, int, int, int, int], str]  # (day, month, year, hour, minute) -> header date text


def _h12(hour: int) -> tuple[int, bool]:
    return (hour % 12 or 12), hour >= 12


def _en(words: list[str], pattern: str) -> Fmt:
    def fmt(d: int, m: int, y: int, hh: int, mm: int) -> str:
        h, pm = _h12(hh)
        return pattern.format(d=d, mon=words[m - 1], y=y, h=h, mm=f"{mm:02d}", ap="PM" if pm else "AM")
    return fmt


def _plain(words: list[str], pattern: str) -> Fmt:
    def fmt(d: int, m: int, y: int, hh: int, mm: int) -> str:
        return pattern.format(d=d, dd=f"{d:02d}", mon=words[m - 1] if words else "", m=m, mo=f"{m:02d}", y=y, yy=f"{y % 100:02d}",
                              hh=f"{hh:02d}", h=hh, mm=f"{mm:02d}")
    return fmt


# (language, client, form) -> how that client writes the date line.
FORMATS: dict[tuple[str, str, str], Fmt] = {
    ("ru", "gmail", "format-abbr"): _plain(RU_GMAIL, "пн, {d} {mon} {y} г. в {hh}:{mm}"),
    ("ru", "gmail", "standalone-abbr"): _plain(RU_STANDALONE, "пн, {d} {mon} {y} г. в {hh}:{mm}"),
    ("ru", "gmail", "short-no-dot"): _plain(RU_SHORT, "пн, {d} {mon} {y} г. в {hh}:{mm}"),
    ("ru", "gmail", "short-dot"): _plain([w + "." for w in RU_SHORT], "пн, {d} {mon} {y} г. в {hh}:{mm}"),
    ("ru", "outlook", "genitive"): _plain(RU_GENITIVE, "понедельник, {d} {mon} {y} г. {hh}:{mm}"),
    ("ru", "apple", "genitive"): _plain(RU_GENITIVE, "{d} {mon} {y} г., в {hh}:{mm}"),
    ("ru", "mailru", "genitive"): _plain(RU_GENITIVE, "Понедельник, {d} {mon} {y}, {hh}:{mm} +03:00"),
    ("ru", "nominative", "full"): _plain(RU_NOMINATIVE, "{d} {mon} {y} {hh}:{mm}"),
    ("ru", "thunderbird", "numeric"): _plain([], "{dd}.{mo}.{y} {hh}:{mm}"),
    ("ru", "yandex", "numeric"): _plain([], "{dd}.{mo}.{y}, {hh}:{mm}"),
    ("ru", "numeric", "2-digit-year"): _plain([], "{dd}.{mo}.{yy} {hh}:{mm}"),
    ("uk", "gmail", "format-abbr"): _plain(UK_GMAIL, "пн, {d} {mon} {y} р. о {hh}:{mm}"),
    ("uk", "outlook", "genitive"): _plain(UK_GENITIVE, "понеділок, {d} {mon} {y} р. {hh}:{mm}"),
    ("uk", "apple", "genitive"): _plain(UK_GENITIVE, "{d} {mon} {y} р. о {hh}:{mm}"),
    ("uk", "thunderbird", "numeric"): _plain([], "{dd}.{mo}.{y} {hh}:{mm}"),
    ("ru", "thebat", "genitive-seconds"): _plain(RU_GENITIVE, "Понедельник, {d} {mon} {y}, {hh}:{mm}:00"),
    ("en", "thebat", "full-seconds"): _plain(EN_FULL, "Monday, {mon} {d}, {y}, {hh}:{mm}:00"),
    ("uk", "nominative", "full"): _plain(UK_NOMINATIVE, "{d} {mon} {y} {hh}:{mm}"),
    ("en", "gmail", "abbr"): _en(EN_SHORT, "Mon, {mon} {d}, {y} at {h}:{mm} {ap}"),
    ("en", "outlook", "full"): _en(EN_FULL, "Monday, {mon} {d}, {y} {h}:{mm} {ap}"),
    ("en", "apple", "abbr"): _en(EN_SHORT, "{mon} {d}, {y}, at {h}:{mm} {ap}"),
    ("en-GB", "gmail", "abbr"): _plain(EN_SHORT, "Mon, {d} {mon} {y} at {hh}:{mm}"),
    ("en-GB", "thunderbird", "numeric"): _plain([], "{dd}/{mo}/{y} {hh}:{mm}"),
    ("de", "gmail", "abbr"): _plain("Jan. Feb. März Apr. Mai Juni Juli Aug. Sept. Okt. Nov. Dez.".split(),
                                    "Mo., {d}. {mon} {y} um {hh}:{mm}"),
    ("de", "outlook", "full"): _plain("Januar Februar März April Mai Juni Juli August September Oktober November "
                                      "Dezember".split(), "Montag, {d}. {mon} {y} {hh}:{mm}"),
    ("de", "apple", "numeric"): _plain([], "{dd}.{mo}.{y} um {hh}:{mm}"),
    ("fr", "gmail", "abbr"): _plain("janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.".split(),
                                    "lun. {d} {mon} {y} à {hh}:{mm}"),
    ("fr", "outlook", "full"): _plain("janvier février mars avril mai juin juillet août septembre octobre novembre "
                                      "décembre".split(), "lundi {d} {mon} {y} {hh}:{mm}"),
    ("es", "gmail", "abbr"): _plain("ene feb mar abr may jun jul ago sept oct nov dic".split(),
                                    "lun, {d} {mon} {y} a las {hh}:{mm}"),
    ("es", "outlook", "full"): _plain("enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
                                      "diciembre".split(), "lunes, {d} de {mon} de {y} {hh}:{mm}"),
    ("it", "gmail", "abbr"): _plain("gen feb mar apr mag giu lug ago set ott nov dic".split(),
                                    "lun {d} {mon} {y} alle ore {hh}:{mm}"),
    ("pt", "gmail", "abbr"): _plain("jan. fev. mar. abr. mai. jun. jul. ago. set. out. nov. dez.".split(),
                                    "seg., {d} de {mon} de {y} às {hh}:{mm}"),
    ("pt", "outlook", "full"): _plain("janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro "
                                      "dezembro".split(), "segunda-feira, {d} de {mon} de {y} {hh}:{mm}"),
    ("nl", "gmail", "abbr"): _plain("jan feb mrt apr mei jun jul aug sep okt nov dec".split(),
                                    "ma {d} {mon} {y} om {hh}:{mm}"),
    ("pl", "gmail", "abbr"): _plain("sty lut mar kwi maj cze lip sie wrz paź lis gru".split(),
                                    "pon., {d} {mon} {y} o {hh}:{mm}"),
    ("pl", "outlook", "genitive"): _plain("stycznia lutego marca kwietnia maja czerwca lipca sierpnia września "
                                          "października listopada grudnia".split(), "poniedziałek, {d} {mon} {y} {hh}:{mm}"),
    ("cs", "gmail", "numeric"): _plain([], "po {d}. {m}. {y} v {hh}:{mm}"),
    ("sk", "gmail", "numeric"): _plain([], "po {d}. {m}. {y} o {hh}:{mm}"),
    ("sv", "gmail", "abbr"): _plain("jan. feb. mars apr. maj juni juli aug. sep. okt. nov. dec.".split(),
                                    "mån {d} {mon} {y} kl. {hh}:{mm}"),
    ("da", "gmail", "abbr"): _plain("jan. feb. mar. apr. maj jun. jul. aug. sep. okt. nov. dec.".split(),
                                    "man. {d}. {mon} {y} kl. {hh}.{mm}"),
    ("no", "gmail", "abbr"): _plain("jan. feb. mar. apr. mai jun. jul. aug. sep. okt. nov. des.".split(),
                                    "man. {d}. {mon} {y} kl. {hh}:{mm}"),
    ("fi", "gmail", "numeric"): _plain([], "ma {d}.{m}.{y} klo {hh}.{mm}"),
    ("hu", "gmail", "abbr"): _plain("jan. febr. márc. ápr. máj. jún. júl. aug. szept. okt. nov. dec.".split(),
                                    "{y}. {mon} {d}., H, {hh}:{mm}"),
    ("hu", "numeric", "dotted"): _plain([], "{y}. {mo}. {dd}. {hh}:{mm}"),
    ("ro", "gmail", "abbr"): _plain("ian. feb. mar. apr. mai iun. iul. aug. sept. oct. nov. dec.".split(),
                                    "lun., {d} {mon} {y} la {hh}:{mm}"),
    ("tr", "gmail", "abbr"): _plain("Oca Şub Mar Nis May Haz Tem Ağu Eyl Eki Kas Ara".split(), "{d} {mon} {y} Pzt {hh}:{mm}"),
    ("bg", "gmail", "numeric"): _plain([], "пн, {d}.{mo}.{y} г. в {hh}:{mm}"),
    ("sr", "gmail", "abbr"): _plain("јан феб мар апр мај јун јул авг сеп окт нов дец".split(),
                                    "пон, {d}. {mon} {y}. у {hh}:{mm}"),
    ("lt", "gmail", "iso"): _plain([], "{y}-{mo}-{dd}, pr, {hh}:{mm}"),
    ("et", "gmail", "abbr"): _plain("jaan veebr märts apr mai juuni juuli aug sept okt nov dets".split(),
                                    "E, {d}. {mon} {y} kell {hh}:{mm}"),
    ("id", "gmail", "abbr"): _plain("Jan Feb Mar Apr Mei Jun Jul Agu Sep Okt Nov Des".split(),
                                    "Sen, {d} {mon} {y} pukul {hh}.{mm}"),
    ("ja", "gmail", "numeric"): _plain([], "{y}年{m}月{d}日(月) {hh}:{mm}"),
    ("vi", "gmail", "numeric"): _plain([], "Th 2, {d} thg {m}, {y} lúc {hh}:{mm}"),
}


GREEK = "Ιαν Φεβ Μαρ Απρ Μαΐ Ιουν Ιουλ Αυγ Σεπ Οκτ Νοε Δεκ".split()
ES_SHORT = "ene feb mar abr may jun jul ago sept oct nov dic".split()


def _twelve(words: list[str], pattern: str, am: str, pm: str) -> Fmt:
    def fmt(d: int, m: int, y: int, hh: int, mm: int) -> str:
        h, is_pm = _h12(hh)
        return pattern.format(d=d, m=m, mon=words[m - 1] if words else "", y=y, yy=f"{y % 100:02d}", h=h, mm=f"{mm:02d}",
                              ap=pm if is_pm else am)
    return fmt


# Languages whose clients write a 12-hour clock with their own day-period words (CLDR dayPeriods).
FORMATS.update({
    ("el", "gmail", "12h"): _twelve(GREEK, "Δευ, {d} {mon} {y} στις {h}:{mm} {ap}", "π.μ.", "μ.μ."),
    ("ko", "gmail", "12h"): _twelve([], "{y}년 {m}월 {d}일 (월) {ap} {h}:{mm}", "오전", "오후"),
    ("ja", "gmail", "12h"): _twelve([], "{y}年{m}月{d}日(月) {ap}{h}:{mm}", "午前", "午後"),
    ("zh", "gmail", "12h"): _twelve([], "{y}年{m}月{d}日周一 {ap}{h}:{mm}", "上午", "下午"),
    ("es-US", "gmail", "12h"): _twelve(ES_SHORT, "lun, {d} {mon} {y}, {h}:{mm} {ap}", "a. m.", "p. m."),
    ("en-US", "thunderbird", "numeric-12h"): _twelve([], "{m}/{d}/{yy}, {h}:{mm} {ap}", "AM", "PM"),
    ("vi", "gmail", "12h"): _twelve([], "Th 2, {d} thg {m}, {y} lúc {h}:{mm} {ap}", "SA", "CH"),
})


# Each month once, on a day that differs month to month (1st, 2-digit days, the month's last day),
# morning and afternoon, so a day/month swap or a month off by one shows.
DAYS = (1, 28, 2, 30, 13, 30, 31, 9, 30, 10, 29, 31)
TIMES = ((14, 30), (9, 5), (0, 15), (12, 0), (23, 59), (11, 45))


@pytest.mark.parametrize("key", sorted(FORMATS), ids=lambda k: "-".join(k))
def test_every_month_in_each_client_format(key: tuple[str, str, str]) -> None:
    fmt = FORMATS[key]
    zone = MSK if key[1] == "mailru" else UTC  # Mail.ru writes its offset; the others leave the default
    for year in (2025, 2026):
        for month in range(1, 13):
            day = DAYS[month - 1]
            hour, minute = TIMES[(month + year) % len(TIMES)]
            text = fmt(day, month, year, hour, minute)
            assert parse_loose_date(text, UTC) == dt.datetime(year, month, day, hour, minute, tzinfo=zone), text


@pytest.mark.parametrize("text", ["пн, 2 мар. 2026 г. в 14:30", "пн, 2 мар 2026 г. в 14:30"])
def test_the_reported_russian_gmail_date_is_march(text: str) -> None:
    assert parse_loose_date(text, UTC) == dt.datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize("text,expected", [
    ("пн, 7 сен. 2026 г. в 09:00", dt.datetime(2026, 9, 7, 9, 0)),  # "сен." as well as CLDR's "сент."
    ("вт, 8 сент 2026 г. в 09:00", dt.datetime(2026, 9, 8, 9, 0)),
    ("пт, 1 мая 2026 г. в 10:00", dt.datetime(2026, 5, 1, 10, 0)),
    ("ср, 3 июн. 2026 г. в 10:00", dt.datetime(2026, 6, 3, 10, 0)),
    ("ср, 3 июня 2026 г. в 10:00", dt.datetime(2026, 6, 3, 10, 0)),
    ("12 нояб. 2026 г., 7:05", dt.datetime(2026, 11, 12, 7, 5)),
    ("3/2/26, 12:05 AM", dt.datetime(2026, 3, 2, 0, 5)),  # en-US numeric beside a 12-hour clock is M/D
    ("3/2/26, 12:05 PM", dt.datetime(2026, 3, 2, 12, 5)),
    ("13/2/26, 2:05 PM", dt.datetime(2026, 2, 13, 14, 5)),  # no 13th month: day first after all
    ("02.03.26 14:30", dt.datetime(2026, 3, 2, 14, 30)),  # a 2-digit year is not a time
])
def test_short_forms_two_digit_years_and_clocks(text: str, expected: dt.datetime) -> None:
    assert parse_loose_date(text, UTC) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize("text,hours", [
    ("2 марта 2026 г., 14:30 МСК", 3),
    ("pondělí 2. března 2026 14:30 SEČ", 1),
    ("utorok 2. júna 2026, 14:30 SELČ", 2),
    ("Montag, 2. März 2026 14:30 MEZ", 1),
])
def test_zone_abbreviations_in_other_scripts(text: str, hours: int) -> None:
    got = parse_loose_date(text, UTC)
    assert got is not None and got.utcoffset() == dt.timedelta(hours=hours)
    assert (got.day, got.hour, got.minute) == (2, 14, 30)


def _gmail_ru(date: str) -> str:
    return ("См. ниже\n\n---------- Пересылаемое сообщение ---------\nОт: Иван Петров <ivan@theatre.example>\n"
            f"Date: {date}\nSubject: Ответ на заявку\nTo: <me@example.org>\n\nДобрый день!\n")


def _outlook_ru(date: str) -> str:
    return ("\n________________________________\nОт: Иван Петров <ivan@theatre.example>\n"
            f"Отправлено: {date}\nКому: me@example.org\nТема: Ответ на заявку\n\nДобрый день!\n")


def _yandex(date: str) -> str:
    return f"\n\n-------- Пересылаемое сообщение --------\n{date}, \"Иван Петров\" <ivan@theatre.example>:\n\nДобрый день!\n"


def _mailru(date: str) -> str:
    return ("\n\n-------- Пересылаемое сообщение --------\nОт кого: Иван Петров <ivan@theatre.example>\n"
            f"Кому: me@example.org\nДата: {date}\nТема: Ответ на заявку\n\nДобрый день!\n")


def _apple_ru(date: str) -> str:
    return (f"\n\nНачало переадресованного сообщения:\n\nОт: Иван Петров <ivan@theatre.example>\nТема: Ответ на заявку\n"
            f"Дата: {date}\nКому: me@example.org\n\nДобрый день!\n")


@pytest.mark.parametrize("wrap,date,expected", [
    (_gmail_ru, "пн, 2 мар. 2026 г. в 14:30", dt.datetime(2026, 3, 2, 14, 30, tzinfo=MSK)),
    (_gmail_ru, "пт, 4 сент. 2026 г. в 09:15", dt.datetime(2026, 9, 4, 9, 15, tzinfo=MSK)),
    (_outlook_ru, "понедельник, 2 марта 2026 г. 14:30", dt.datetime(2026, 3, 2, 14, 30, tzinfo=MSK)),
    (_yandex, "02.03.2026, 14:30", dt.datetime(2026, 3, 2, 14, 30, tzinfo=MSK)),
    (_mailru, "Понедельник, 2 марта 2026, 14:30 +03:00", dt.datetime(2026, 3, 2, 14, 30, tzinfo=MSK)),
    (_apple_ru, "2 марта 2026 г., в 14:30", dt.datetime(2026, 3, 2, 14, 30, tzinfo=MSK)),
])
def test_forward_header_dates_through_the_forward_reader(wrap: Callable[[str], str], date: str,
                                                           expected: dt.datetime) -> None:
    fwd = find_forward_in_text(wrap(date), subject="Fwd: Ответ на заявку", default_tz=MSK)
    assert fwd is not None and fwd.from_ is not None and fwd.from_.address == "ivan@theatre.example"
    assert fwd.date == expected
