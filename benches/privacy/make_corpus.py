#!/usr/bin/env python3
"""Writes tests/data/privacy_corpus.jsonl: realistic Segment track events, each carrying either
one planted identifier (with its kind and the strings that must not reach the output) or one
benign analytics value (which must reach the output unchanged), under the allow-list in
tests/data/privacy_corpus.toml.

Deterministic (fixed seed), so the corpus is reviewed as a file; rerun after editing:
    python3 benches/privacy/make_corpus.py
"""

import json
import random
import os

random.seed(20261202)

GIVEN = ["Jane", "John", "Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Susan", "David",
         "Karen", "Thomas", "Nancy", "Daniel", "Lisa", "Kevin", "Angela", "Brian", "Emily", "Jose",
         "Ana", "Luis", "Carmen", "Wei", "Priya", "Ahmed", "Fatima", "Olga", "Kwame", "Aisha"]
SURNAMES = ["Roe", "Smith", "Garcia", "Nguyen", "Johnson", "Okafor", "Patel", "Kim", "Brown", "Lopez",
            "Martinez", "Wilson", "Anderson", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker",
            "Young", "Hernandez", "King", "Wright", "Hill", "Green", "Adams", "Baker", "Nelson",
            "Carter", "Mitchell", "Perez", "Roberts", "Turner", "Phillips", "Campbell", "Parker"]
SPECIALTIES = ["cardiology", "dermatology", "pediatrics", "orthopedics", "primary care", "oncology",
               "neurology", "obgyn", "urgent care", "psychiatry"]

ALLOWED_TEXT = ["search_term", "query", "page_title", "error_message", "screen_name", "message"]

cases = []


def event(props, name="Provider Searched", extra=None):
    ev = {
        "type": "track",
        "event": name,
        "userId": f"user-{random.randint(1000, 9999)}",
        "anonymousId": f"anon-{random.randint(10000, 99999)}",
        "messageId": f"ajs-next-{random.randint(10**12, 10**13 - 1)}-{random.randint(1000, 9999)}",
        "timestamp": f"2026-11-{random.randint(10, 28)}T{random.randint(10, 23)}:{random.randint(10, 59)}:00.000Z",
        "properties": props,
        "context": {
            "library": {"name": "analytics.js", "version": "5.2.0"},
            "page": {"url": "https://care.example.org/find-a-doctor", "title": "Find a Doctor"},
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari/605.1.15",
            "ip": "203.0.113.9",
        },
    }
    if extra:
        ev.update(extra)
    return ev


def planted(kind, group, ev, leak):
    cases.append({"kind": kind, "group": group, "event": ev, "leak": leak if isinstance(leak, list) else [leak]})


def benign(group, ev, path, value):
    cases.append({"kind": "benign", "group": group, "event": ev, "path": path, "value": value})


def spec():
    return random.choice(SPECIALTIES)


def name():
    return random.choice(GIVEN), random.choice(SURNAMES)


def text_key():
    return random.choice(ALLOWED_TEXT)


def phone10():
    return f"{random.randint(201, 989)}{random.randint(201, 989)}{random.randint(0, 9999):04d}"


def ssn9():
    return f"{random.randint(100, 665):03d}{random.randint(10, 99):02d}{random.randint(1000, 9999):04d}"


def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(random.randint(0, 9))
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


# 1. Keys: compound keys inside the allowed `filters` object, keys in Spanish, look-alike
#    letters, identifiers used as keys.
compound = [
    ("patientDob", "1984-07-02", "1984-07-02"), ("patient_dob", "07/02/1984", "07/02/1984"),
    ("ssnLast4", "6789", "6789"), ("ssn_last_four", "4321", "4321"),
    ("insuranceMemberId", "XJH482913377", "XJH482913377"), ("memberIdNumber", "W2284410", "W2284410"),
    ("near_zip", "94112", "94112"), ("homeZipCode", "02139", "02139"), ("patient_age", 97, "97"),
    ("appointmentTime", "2026-12-03T09:30:00", "09:30"), ("patientEmail", "jroe@example.com", "jroe@example.com"),
    ("contactPhone", "4155550123", "4155550123"), ("guardianName", "Maria Lopez", "Lopez"),
    ("emergencyContactName", "Luis Perez", "Perez"), ("patientFirstName", "Aisha", "Aisha"),
    ("patientLastName", "Okafor", "Okafor"), ("patientMrn", "00482913", "00482913"),
    ("medicalRecordNumber", "MR-7741203", "MR-7741203"), ("policyNumber", "PLX-99812-03", "PLX-99812-03"),
    ("driversLicenseNumber", "D1234-56789-01234", "D1234-56789-01234"), ("homeAddressLine1", "12 Oak Street", "Oak Street"),
    ("billingStreetAddress", "400 W 5th Ave", "5th Ave"), ("patientCity", "Springfield", "Springfield"),
    ("visitDate", "2026-12-03", "2026-12-03"), ("dateOfBirth", "1990-01-15", "1990-01-15"),
    ("user_phone_number", "(415) 555-0188", "555-0188"), ("ipAddress", "198.51.100.23", "198.51.100.23"),
    ("device_advertising_id", "6D92078A-8246-4BA4-AE5B-76104861E7DC", "6D92078A-8246-4BA4-AE5B-76104861E7DC"),
    ("claimNumber", "CLM-5521009", "CLM-5521009"), ("accountNumber", "5521009441", "5521009441"),
]
for key, value, leak in compound:
    planted("key_compound", "keys", event({"specialty": spec(), "filters": {key: value}}), leak)
spanish = [
    ("nombre", "Carmen Ruiz", "Ruiz"), ("apellido", "Hernández", "Hernández"), ("teléfono", "55 1234 5678", "1234 5678"),
    ("telefono", "+52 55 1234 5678", "1234 5678"), ("correo", "cruiz@example.mx", "cruiz@example.mx"),
    ("correoElectronico", "ana.g@example.com", "ana.g@example.com"), ("dirección", "Calle Reforma 222", "Reforma 222"),
    ("fechaDeNacimiento", "02/07/1984", "02/07/1984"), ("fecha_nacimiento", "1984-07-02", "1984-07-02"),
    ("codigoPostal", "06600", "06600"), ("celular", "5512345678", "5512345678"), ("edad", 93, "93"),
    ("nombrePaciente", "Luis Ortega", "Ortega"), ("ciudad", "Guadalajara", "Guadalajara"),
]
for key, value, leak in spanish:
    planted("key_spanish", "keys", event({"specialty": spec(), "filters": {key: value}}), leak)
homoglyph = [
    ("\u0435mail", "jane.roe@example.com", "jane.roe@example.com"),  # Cyrillic е
    ("ph\u043ene", "415-555-0142", "415-555-0142"),  # Cyrillic о
    ("ｅｍａｉｌ", "wei.kim@example.org", "wei.kim@example.org"),
    ("e\u200bmail", "k.nelson@example.net", "k.nelson@example.net"),
    ("ss\u0578", "123-45-6789", "123-45-6789"),  # Armenian ո is not folded: the SSN detector must catch it
    ("first\u00a0name", "Priya", "Priya"),
    ("DOB", "7/2/1984", "7/2/1984"),
    ("Ｐｈｏｎｅ＿Ｎｕｍｂｅｒ", "4155550199", "4155550199"),
]
for key, value, leak in homoglyph:
    planted("key_lookalike", "keys", event({"specialty": spec(), "filters": {key: value}}), leak)
as_keys = [
    ({"Jane Roe": {"visits": 3}}, "Jane Roe"), ({"MRN 00482913": True}, "00482913"),
    ({"00482913": {"status": "open"}}, "00482913"), ({"jroe@example.com": True}, "jroe@example.com"),
    ({"415-555-0123": "mobile"}, "415-555-0123"), ({"Okafor, Kwame": "seen"}, "Okafor"),
    ({"123-45-6789": 1}, "123-45-6789"), ({"Dr. Patel": {"rating": 5}}, "Patel"),
]
for obj, leak in as_keys:
    planted("key_identifier", "keys", event({"specialty": spec(), "filters": obj}), leak)

# 2. Numbers sent as JSON numbers under allowed keys.
for _ in range(8):
    p = phone10()
    planted("number_phone", "numbers", event({"search_term": int(p)}), p)
for _ in range(5):
    p = phone10()
    planted("number_phone", "numbers", event({"filters": {"contact": int(p)}}), p)
for _ in range(7):
    s = ssn9()
    planted("number_ssn", "numbers", event({random.choice(["search_term", "query"]): int(s)}), s)
for _ in range(5):
    c = luhn_complete(random.choice(["4", "51", "37", "6011"]), 16 if random.random() < 0.7 else 15)
    planted("number_card", "numbers", event({"search_term": int(c)}), c)
for _ in range(5):
    z = f"{random.randint(10000, 99950)}"
    planted("number_zip", "numbers", event({"search_term": int(z), "specialty": spec()}), z)
for _ in range(4):
    z = f"{random.randint(10000, 99950)}"
    planted("number_zip", "numbers", event({"filters": {"near": int(z)}}), z)
for _ in range(5):
    m = f"{random.randint(10**6, 10**8)}"
    planted("number_record", "numbers", event({"filters": {"mrn_lookup": int(m)}}), m)

# 3. Unicode in values: no-break spaces, en dashes, fullwidth digits and @, zero-width spaces,
#    mixed-script domains.
FW = str.maketrans("0123456789@.", "０１２３４５６７８９＠．")
for _ in range(6):
    p = phone10()
    text = f"{p[:3]}\u00a0{p[3:6]}\u2013{p[6:]}"
    planted("unicode_phone", "unicode", event({text_key(): f"call me {text} after 5"}), text)
for _ in range(5):
    p = phone10()
    text = f"({p[:3]}) {p[3:6]}-{p[6:]}".translate(FW)
    planted("unicode_phone", "unicode", event({text_key(): f"my number {text}"}), text)
for _ in range(5):
    s = ssn9()
    text = f"{s[:3]}\u2013{s[3:5]}\u2013{s[5:]}"
    planted("unicode_ssn", "unicode", event({text_key(): f"ssn {text}"}), text)
for _ in range(5):
    s = ssn9()
    text = f"{s[:3]}\u200b-{s[3:5]}\u200b-{s[5:]}"
    planted("unicode_ssn", "unicode", event({text_key(): f"id is {text}"}), text)
for _ in range(5):
    g, f = name()
    text = f"{g.lower()}.{f.lower()}@example.com".translate(FW)
    planted("unicode_email", "unicode", event({text_key(): f"email {text} please"}), text)
for _ in range(4):
    g, f = name()
    text = f"{g.lower()}{random.randint(1, 99)}@ex\u0430mple.com"  # Cyrillic а in the domain
    planted("unicode_email", "unicode", event({text_key(): f"reach {text}"}), text)
for _ in range(4):
    g, f = name()
    text = f"{g.lower()}\u200b@example.org"
    planted("unicode_email", "unicode", event({text_key(): f"{text}"}), text)

# 4. Kinds with no detector before.
MONTHS = ["January", "March", "July", "October", "Dec", "Aug"]
date_forms = [
    lambda: f"DOB {random.randint(1, 12):02d}/{random.randint(1, 28):02d}/{random.randint(1930, 2010)}",
    lambda: f"born {random.choice(MONTHS)} {random.randint(1, 28)}, {random.randint(1930, 2010)}",
    lambda: f"date of birth {random.randint(1930, 2010)}-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}",
    lambda: f"admitted {random.randint(1, 12)}/{random.randint(1, 28)}/2026",
    lambda: f"visit on {random.randint(1, 28)} {random.choice(MONTHS)} 2026",
    lambda: f"seen {random.randint(1, 12)}-{random.randint(1, 28)}-2026 for follow-up",
]
for i in range(24):
    text = date_forms[i % len(date_forms)]()
    leak = " ".join(text.split()[1:]) if not text.startswith("date of birth") else text.split()[-1]
    if text.startswith("seen"):
        leak = text.split()[1]
    if text.startswith("visit on"):
        leak = " ".join(text.split()[2:])
    key = text_key()
    planted("date", "new_kinds", event({key: text}), leak)
for i in range(4):
    d = f"{random.randint(1, 12):02d}/{random.randint(1, 28):02d}/{random.randint(1940, 2000)}"
    planted("date", "new_kinds", event({}, name=f"Birthday Entered {d}"), d)
zip_forms = [
    lambda z: f"HIV test near {z}", lambda z: f"dermatologist in {z}", lambda z: f"zip {z}",
    lambda z: f"Boston, MA {z}", lambda z: f"clinics around {z}", lambda z: f"{z}-{random.randint(1000, 9999)}",
]
for i in range(18):
    z = f"{random.randint(10000, 99950)}"
    text = zip_forms[i % len(zip_forms)](z)
    planted("zip", "new_kinds", event({text_key(): text}), z)
for i in range(4):
    z = f"{random.randint(10000, 99950)}"
    planted("zip", "new_kinds", event({}, name=f"Searched Near {z}"), z)
streets = ["Oak", "Maple", "Main", "Elm", "Washington", "Lake", "Cedar", "Park", "Pine", "Sunset"]
suffixes = ["Street", "St", "Ave", "Avenue", "Rd", "Blvd", "Drive", "Lane", "Way", "Court"]
for i in range(20):
    n = random.randint(1, 9999)
    text = f"{n} {random.choice(streets)} {random.choice(suffixes)}"
    if i % 4 == 1:
        text = f"{n} W {random.randint(2, 99)}th {random.choice(suffixes)} Apt {random.randint(1, 40)}"
    if i % 4 == 2:
        text = text.lower()
    if i % 5 == 3:
        text = f"PO Box {random.randint(10, 9999)}"
    planted("street_address", "new_kinds", event({text_key(): f"ship to {text}, thanks"}), text)
record_forms = [
    lambda: ("MRN {}".format(random.randint(10**6, 10**8)), 1), lambda: ("MRN-{:08d}".format(random.randint(10**5, 10**8)), 0),
    lambda: ("member ID: {}{}".format(random.choice(["XJH", "W", "ZZ"]), random.randint(10**4, 10**8)), 2),
    lambda: ("acct #{}-{:03d}".format(random.randint(1000, 9999), random.randint(0, 999)), 1),
    lambda: ("policy number {}".format(random.randint(10**6, 10**9)), 2),
    lambda: ("patient #{}".format(random.randint(10**4, 10**7)), 1),
    lambda: ("claim {}".format(random.randint(10**6, 10**9)), 1),
    lambda: ("medical record number {}".format(random.randint(10**5, 10**8)), 3),
]
for i in range(24):
    text, words = record_forms[i % len(record_forms)]()
    leak = text.split()[-1].lstrip("#")
    if text.startswith("MRN-"):
        leak = text[4:]
    planted("record_number", "new_kinds", event({text_key(): f"re: {text}"}), leak)
spelled = [
    "{g} at example dot com", "{g}[at]example[dot]com", "{g} (at) example.org", "{g} @ example . net",
    "{g}.{f} AT clinic DOT org", "{g}{{at}}example{{dot}}com",
]
for i in range(15):
    g, f = name()
    text = spelled[i % len(spelled)].format(g=g.lower(), f=f.lower())
    planted("email_spelled", "new_kinds", event({text_key(): f"write me: {text}"}), text)
intl = ["+44 20 7946 {:04d}", "020 7946 {:04d}", "+33 6 12 34 {:02d} {:02d}", "06 12 34 {:02d} {:02d}",
        "0044 20 7946 {:04d}", "+49 30 1234 {:04d}", "+52 55 1234 {:04d}", "+91 98765 {:05d}"]
for i in range(16):
    form = intl[i % len(intl)]
    n = form.count("{")
    text = form.format(*[random.randint(10, 99) if n > 1 else random.randint(1000, 9999)] * n) if "05d" not in form else form.format(random.randint(10000, 99999))
    planted("phone_intl", "new_kinds", event({text_key(): f"call {text}"}), text)
for i in range(8):
    s = ssn9()
    text = f"{s[:3]}.{s[3:5]}.{s[5:]}"
    planted("ssn_dotted", "new_kinds", event({text_key(): f"ssn {text}"}), text)
for i in range(8):
    p = phone10()
    text = random.choice(["call{}", "tel{}", "ph{}now", "phone{}"]).format(p)
    planted("phone_glued", "new_kinds", event({text_key(): text}), p)

# 5. Names: free text, URL slugs, page, screen and event names, titles, typed searches.
for i in range(14):
    g, f = name()
    form = random.choice(["Patient {g} {f} called about results", "Dr. {f} is running late",
                          "Mrs. {f} asked for a refill", "spoke with {g} {f} today", "{g} {f} missed the appointment",
                          "pt: {f}, {g}"])
    text = form.format(g=g, f=f)
    planted("person_name", "names", event({text_key(): text}), f)
for i in range(12):
    g, f = name()
    planted("person_name", "names",
            event({"page_url": f"https://care.example.org/doctors/{g.lower()}-{f.lower()}", "specialty": spec()}), f.lower())
for i in range(10):
    g, f = name()
    title = random.choice(["{g} {f} | Acme Health", "{g} {f}, MD - Cardiology", "Dr. {g} {f} - Reviews",
                           "Book with {g} {f}"]).format(g=g, f=f)
    planted("person_name", "names", event({"page_title": title}), f)
for i in range(10):
    g, f = name()
    planted("person_name", "names", event({"specialty": spec()}, name=f"Viewed {g} {f} Profile"), f)
for i in range(8):
    g, f = name()
    planted("person_name", "names", event({"search_term": f"{g.lower()} {f.lower()}"}), f.lower())
for i in range(6):
    g, f = name()
    planted("person_name", "names", event({"screen_name": f"Chat with {g} {f}"}), f)
for i in range(4):
    g, f = name()
    page = {"type": "page", "name": f"{g} {f}", "properties": {"path": "/profile"}}
    ev = event({"specialty": spec()})
    ev.update(page)
    del ev["event"]
    planted("person_name", "names", ev, f)

# Harder names: given names or surnames off the Census lists, lone surnames, lowercase prose.
hard_names = [
    ("Patient Xiomara Quisenberry called", "Quisenberry"), ("Dr. Zbigniew Wróblewski", "Wróblewski"),
    ("Okafor called back about results", "Okafor"), ("spoke with jane roe about billing", "roe"),
    ("Thanks Nkechi!", "Nkechi"), ("Mr. Oyelaran-Smith will call", "Oyelaran"),
    ("Zebulon Thistlewood", "Thistlewood"), ("appointment for Siobhan O'Malley", "O'Malley"),
    ("Ms. Tran's refill", "Tran"), ("nurse Aigerim says hi", "Aigerim"),
    ("Kwame Mensah booked", "Mensah"), ("Roe, Jane - follow up", "Roe"),
]
for text, leak in hard_names:
    planted("person_name", "names", event({text_key(): text}), leak)

# 6. The kinds detectors knew, in allowed free text.
for i in range(8):
    g, f = name()
    e = f"{g.lower()}.{f.lower()}{random.randint(1, 99)}@{random.choice(['gmail.com', 'example.org', 'yahoo.com'])}"
    planted("email", "known", event({text_key(): f"contact {e}"}), e)
for i in range(8):
    p = phone10()
    text = random.choice(["({}) {}-{}", "{}-{}-{}", "{}.{}.{}", "+1 {} {} {}"]).format(p[:3], p[3:6], p[6:])
    planted("phone", "known", event({text_key(): f"cb {text}"}), text)
for i in range(6):
    s = ssn9()
    planted("ssn", "known", event({text_key(): f"ssn {s[:3]}-{s[3:5]}-{s[5:]}"}), f"{s[:3]}-{s[3:5]}-{s[5:]}")
for i in range(6):
    c = luhn_complete("4", 16)
    text = " ".join(c[j:j + 4] for j in range(0, 16, 4))
    planted("credit_card", "known", event({text_key(): f"card {text}"}), text)
for i in range(6):
    ip = f"{random.randint(11, 223)}.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    planted("ip", "known", event({"error_message": f"connection from {ip} refused"}), ip)
for i in range(6):
    g, f = name()
    url = f"https://care.example.org/search?patient={g}+{f}&dob=1984"
    planted("url_query", "known", event({"page_url": url}), f"patient={g}+{f}")

# Benign analytics values: versions, ids, timestamps, codes, prices, slugs, everyday text.
for v in ["3.14.159.26", "5.2.0", "10.0.19045.3693", "2.1.4.1", "17.1.2", "1.0.0-beta.3"]:
    benign("version", event({"app_version": v}), "properties.app_version", v)
for _ in range(6):
    v = f"{random.randint(100000000, 999999999)}"
    benign("id_9", event({"appointment_id": v}), "properties.appointment_id", v)
for _ in range(6):
    v = phone10()
    benign("id_10", event({"confirmation_number": v}), "properties.confirmation_number", v)
for _ in range(6):
    v = luhn_complete("4", 16)
    benign("id_16", event({"order_id": v}), "properties.order_id", v)
for _ in range(4):
    v = int(phone10())
    benign("id_number", event({"provider_id": v}), "properties.provider_id", v)
for _ in range(4):
    v = random.randint(10**12, 10**13)
    benign("timestamp", event({"timestamp_ms": v}), "properties.timestamp_ms", v)
for _ in range(4):
    v = f"2026-11-{random.randint(10, 28)}T10:{random.randint(10, 59)}:00.000Z"
    benign("timestamp", event({"search_time": v}), "properties.search_time", v)
for code in ["99213", "99214", "93000", "80053", "36415", "99395", "90471", "71046"]:
    benign("cpt", event({"cpt_code": code}), "properties.cpt_code", code)
for code in ["E11.9", "I10", "J06.9", "M54.5", "Z00.00", "F41.1", "K21.9", "R51.9"]:
    benign("icd10", event({"icd10_code": code}), "properties.icd10_code", code)
for p in [12.5, 199.99, 45, 1250.0, 0.99, 75]:
    benign("price", event({"price": p}), "properties.price", p)
for n in [3, 17, 250, 1200, 48213, 90210]:
    benign("count", event({"results_count": n}), "properties.results_count", n)
for slug in ["/find-a-doctor", "/providers/cardiology", "/locations/north-shore", "/primary-care/book",
             "/services/urgent-care", "/blog/flu-season-tips", "/patient-portal/login", "/doctors/cardiology/boston"]:
    benign("slug", event({"page_url": f"https://care.example.org{slug}"}), "properties.page_url",
           f"https://care.example.org{slug}")
for t in ["knee pain", "flu shot near me", "pediatric dentist", "back pain", "covid test", "rash on arm",
          "mri cost", "dermatology", "sleep study", "physical therapy", "mammogram", "allergy testing"]:
    benign("search", event({"search_term": t}), "properties.search_term", t)
for t in ["Find a Doctor | Acme Health", "Book an Appointment", "Primary Care - Acme Health", "Patient Portal",
          "Urgent Care Locations", "Billing & Insurance", "Grace Period Explained", "Rose Hill Clinic"]:
    benign("title", event({"page_title": t}), "properties.page_title", t)
for t in ["Network timeout after 30s", "Card declined (code 51)", "Slot no longer available",
          "Request failed with status 503", "Invalid date range", "Session expired, sign in again"]:
    benign("error", event({"error_message": t}), "properties.error_message", t)
for n in ["Appointment Booked", "Provider Searched", "Video Visit Started", "Prescription Refill Requested",
          "Signed In", "Will Call Pickup Selected"]:
    benign("event_name", event({"specialty": spec()}, name=n), "event", n)
for s in SPECIALTIES[:6]:
    benign("specialty", event({"filters": {"specialty": s, "accepting_new": True}}), "properties.filters.specialty", s)
for d in [5, 10, 25]:
    benign("filter_number", event({"filters": {"distance_miles": d}}), "properties.filters.distance_miles", d)
for lang in ["es", "en-US", "zh-Hant"]:
    benign("filter_text", event({"filters": {"language": lang}}), "properties.filters.language", lang)
for s in ["Home", "Search Results", "Appointment Details", "Settings", "Messages"]:
    benign("screen", event({"screen_name": s}), "properties.screen_name", s)
for t in ["Your visit is confirmed", "Reminder: bring your insurance card", "Thanks for your feedback"]:
    benign("message", event({"message": t}), "properties.message", t)

# Harder benign values: places and institutions named after people, UI strings, dosages, hours.
for t in ["Johns Hopkins Medicine", "Mayo Clinic", "Cedars-Sinai", "Martin Luther King Jr. Community Hospital",
          "St. Jude Children's Research Hospital", "Kaiser Permanente", "Mount Sinai Hospital", "Baylor Scott & White",
          "Mass General Brigham", "Lurie Children's", "Grady Memorial", "Henry Ford Health"]:
    benign("institution", event({"page_title": t}), "properties.page_title", t)
for t in ["Mark as read", "Call 911 in an emergency", "Open 8am-5pm, Suite 200", "Take 2 tablets daily",
          "Rated 4.8 by 1,203 patients", "Meet Our Doctors", "dr near me", "Summer Hours", "Version 2.1.4.1",
          "Ages 2-17", "Results in 3-5 days", "Up to 30 minutes drive", "Room 4B", "Dose: 500 mg twice a day",
          "Chapter 11 of 12", "Step 3 of 5"]:
    benign("ui_text", event({"message": t}), "properties.message", t)

planted_n = sum(1 for c in cases if c["kind"] != "benign")
benign_n = len(cases) - planted_n
out = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "privacy_corpus.jsonl")
with open(out, "w", encoding="utf-8") as f:
    for i, c in enumerate(cases):
        c = {"id": i, **c}
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"{planted_n} planted, {benign_n} benign -> {os.path.normpath(out)}")
