"""Month names as mail clients and people write them, one table for every date reader in parse/.

Per language: the full forms (nominative and the genitive/partitive a date uses, "март"/"марта",
"marzec"/"marca") and the abbreviations of CLDR's format and stand-alone widths that clients such
as Gmail, Outlook and Apple Mail print ("мар.", "сент."/"сен.", "févr.", "mrt", "márc.", "бер.").
Words are stored case-folded and without a trailing dot; ``month_of`` folds its argument the same way.
A word that means different months in two languages (Croatian "listopad" is October, Polish and
Czech "listopad" November) keeps the meaning of the language listed first in ``LANGUAGES``.
"""

from __future__ import annotations

# language -> (full forms, abbreviations); each a 12-item tuple of space-separated words, January first.
_TABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
            "november", "december"),
           ("jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep sept", "oct", "nov", "dec")),
    "ru": (("январь января", "февраль февраля", "март марта", "апрель апреля", "май мая", "июнь июня", "июль июля",
            "август августа", "сентябрь сентября", "октябрь октября", "ноябрь ноября", "декабрь декабря"),
           ("янв", "фев февр", "мар", "апр", "", "июн", "июл", "авг", "сен сент", "окт", "ноя нояб", "дек")),
    "uk": (("січень січня", "лютий лютого", "березень березня", "квітень квітня", "травень травня", "червень червня",
            "липень липня", "серпень серпня", "вересень вересня", "жовтень жовтня", "листопад листопада",
            "грудень грудня"),
           ("січ", "лют", "бер", "квіт", "трав", "черв", "лип", "серп", "вер", "жовт", "лист", "груд")),
    "be": (("студзень студзеня", "люты лютага", "сакавік сакавіка", "красавік красавіка", "травень мая",
            "чэрвень чэрвеня", "ліпень ліпеня", "жнівень жніўня", "верасень верасня", "кастрычнік кастрычніка",
            "лістапад лістапада", "снежань снежня"),
           ("студз", "лют", "сак", "крас", "мая", "чэрв", "ліп", "жн", "вер", "кастр", "ліст", "снеж")),
    "de": (("januar jänner", "februar", "märz maerz", "april", "mai", "juni", "juli", "august", "september",
            "oktober", "november", "dezember"),
           ("jan jän", "feb", "mär", "apr", "", "jun", "jul", "aug", "sep sept", "okt", "nov", "dez")),
    "fr": (("janvier", "février fevrier", "mars", "avril", "mai", "juin", "juillet", "août aout", "septembre",
            "octobre", "novembre", "décembre decembre"),
           ("janv", "févr fevr fév", "", "avr", "", "", "juil", "", "sept", "oct", "nov", "déc dec")),
    "es": (("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre setiembre",
            "octubre", "noviembre", "diciembre"),
           ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept sep set", "oct", "nov", "dic")),
    "it": (("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre",
            "novembre", "dicembre"),
           ("gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic")),
    "pt": (("janeiro", "fevereiro", "março marco", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
            "novembro", "dezembro"),
           ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")),
    "nl": (("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
            "november", "december"),
           ("jan", "feb", "mrt", "apr", "", "jun", "jul", "aug", "sep sept", "okt", "nov", "dec")),
    "sv": (("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
            "november", "december"),
           ("jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "okt", "nov", "dec")),
    "da": (("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
            "november", "december"),
           ("jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "okt", "nov", "dec")),
    "no": (("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober",
            "november", "desember"),
           ("jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "okt", "nov", "des")),
    "pl": (("styczeń stycznia", "luty lutego", "marzec marca", "kwiecień kwietnia", "maj maja", "czerwiec czerwca",
            "lipiec lipca", "sierpień sierpnia", "wrzesień września", "październik października",
            "listopad listopada", "grudzień grudnia"),
           ("sty", "lut", "mar", "kwi", "", "cze", "lip", "sie", "wrz", "paź", "lis", "gru")),
    "cs": (("leden ledna", "únor února", "březen března", "duben dubna", "květen května", "červen června",
            "červenec července", "srpen srpna", "září", "říjen října", "listopad listopadu", "prosinec prosince"),
           ("led", "úno", "bře", "dub", "kvě", "čvn čer", "čvc", "srp", "zář", "říj", "lis", "pro")),
    "sk": (("január januára", "február februára", "marec marca", "apríl apríla", "máj mája", "jún júna", "júl júla",
            "august augusta", "september septembra", "október októbra", "november novembra", "december decembra"),
           ("jan", "feb", "mar", "apr", "", "", "", "aug", "sep", "okt", "nov", "dec")),
    "fi": (("tammikuu tammikuuta", "helmikuu helmikuuta", "maaliskuu maaliskuuta", "huhtikuu huhtikuuta",
            "toukokuu toukokuuta", "kesäkuu kesäkuuta", "heinäkuu heinäkuuta", "elokuu elokuuta", "syyskuu syyskuuta",
            "lokakuu lokakuuta", "marraskuu marraskuuta", "joulukuu joulukuuta"),
           ("tammik tammi", "helmik helmi", "maalisk maalis", "huhtik huhti", "toukok touko", "kesäk kesä",
            "heinäk heinä", "elok elo", "syysk syys", "lokak loka", "marrask marras", "jouluk joulu")),
    "hu": (("január", "február", "március", "április", "május", "június", "július", "augusztus", "szeptember",
            "október", "november", "december"),
           ("jan", "febr feb", "márc már", "ápr", "máj", "jún", "júl", "aug", "szept", "okt", "nov", "dec")),
    "ro": (("ianuarie", "februarie", "martie", "aprilie", "mai", "iunie", "iulie", "august", "septembrie",
            "octombrie", "noiembrie", "decembrie"),
           ("ian", "feb", "mar", "apr", "", "iun", "iul", "aug", "sept", "oct", "nov", "dec")),
    "tr": (("ocak", "şubat", "mart", "nisan", "mayıs", "haziran", "temmuz", "ağustos", "eylül", "ekim", "kasım",
            "aralık"),
           ("oca", "şub", "mar", "nis", "may", "haz", "tem", "ağu", "eyl", "eki", "kas", "ara")),
    "bg": (("януари", "февруари", "март", "април", "май", "юни", "юли", "август", "септември", "октомври",
            "ноември", "декември"),
           ("яну", "фев", "мар", "апр", "", "", "", "авг", "сеп", "окт", "ное", "дек")),
    "sr": (("јануар januar", "фебруар februar", "март mart", "април april", "мај maj", "јун jun", "јул jul",
            "август avgust", "септембар septembar", "октобар oktobar", "новембар novembar", "децембар decembar"),
           ("јан", "феб", "мар", "апр", "", "", "", "авг avg", "сеп", "окт", "нов", "дец")),
    "sl": (("januar", "februar", "marec", "april", "maj", "junij", "julij", "avgust", "september", "oktober",
            "november", "december"),
           ("jan", "feb", "mar", "apr", "", "jun", "jul", "avg", "sep", "okt", "nov", "dec")),
    "hr": (("siječanj siječnja", "veljača veljače", "ožujak ožujka", "travanj travnja", "svibanj svibnja",
            "lipanj lipnja", "srpanj srpnja", "kolovoz kolovoza", "rujan rujna", "listopad listopada",
            "studeni studenoga studenog", "prosinac prosinca"),
           ("sij", "velj", "ožu", "tra", "svi", "lip", "srp", "kol", "ruj", "lis", "stu", "pro")),
    "lt": (("sausis sausio", "vasaris vasario", "kovas kovo", "balandis balandžio", "gegužė gegužės",
            "birželis birželio", "liepa liepos", "rugpjūtis rugpjūčio", "rugsėjis rugsėjo", "spalis spalio",
            "lapkritis lapkričio", "gruodis gruodžio"),
           ("saus", "vas", "kov", "bal", "geg", "birž", "liep", "rugp", "rugs", "spal", "lapkr", "gruod")),
    "et": (("jaanuar", "veebruar", "märts", "aprill", "mai", "juuni", "juuli", "august", "september", "oktoober",
            "november", "detsember"),
           ("jaan", "veebr", "", "apr", "", "", "", "aug", "sept", "okt", "nov", "dets")),
    "el": (("ιανουάριος ιανουαρίου", "φεβρουάριος φεβρουαρίου", "μάρτιος μαρτίου", "απρίλιος απριλίου",
            "μάιος μαΐου μαιου", "ιούνιος ιουνίου", "ιούλιος ιουλίου", "αύγουστος αυγούστου",
            "σεπτέμβριος σεπτεμβρίου", "οκτώβριος οκτωβρίου", "νοέμβριος νοεμβρίου", "δεκέμβριος δεκεμβρίου"),
           ("ιαν", "φεβ", "μαρ", "απρ", "μαΐ μαϊ μαι", "ιουν", "ιουλ", "αυγ", "σεπ σεπτ", "οκτ", "νοε νοέ", "δεκ")),
    "id": (("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september", "oktober",
            "november", "desember"),
           ("jan", "feb", "mar", "apr", "", "jun", "jul", "agu agt agus", "sep", "okt", "nov", "des")),
    "ms": (("januari", "februari", "mac", "april", "mei", "jun", "julai", "ogos", "september", "oktober", "november",
            "disember"),
           ("jan", "feb", "", "apr", "", "", "", "ogo", "sep", "okt", "nov", "dis")),
}
LANGUAGES: tuple[str, ...] = tuple(_TABLE)


def _fold(word: str) -> str:
    return word.casefold().rstrip(".")


def months(languages: tuple[str, ...] = LANGUAGES, *, abbreviations: bool = True) -> dict[str, int]:
    """Case-folded month word -> month number (1-12) for ``languages``; the first language listed wins a clash."""
    found: dict[str, int] = {}
    for lang in languages:
        full, abbr = _TABLE[lang]
        for number, words in enumerate(full + (abbr if abbreviations else ()), start=0):
            for word in words.split():
                found.setdefault(_fold(word), number % 12 + 1)
    return found


_ALL = months()


def month_of(word: str) -> int | None:
    """The month a word names in any known language ("мар.", "марта", "März", "mrt"), or None."""
    return _ALL.get(_fold(word))
