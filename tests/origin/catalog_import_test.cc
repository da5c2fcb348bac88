#include "surge/origin/catalog_import.h"

#include <gtest/gtest.h>

#include "test_catalog.h"

#include <string>
#include <vector>

#include "surge/origin/calendar.h"

namespace surge::origin {
namespace {

// Lines 1-4 of most files below; line 5 is a good clinic, so a row appended after it is line 6.
const std::string kRegions =
    "region,11,서울특별시,\n"
    "region,11110,종로구,11\n"
    "region,26,부산광역시,\n"
    "region,26110,중구,26\n";
const std::string kGoodClinic =
    "clinic,100,종로 연세내과의원,서울특별시 종로구 율곡로 1,11110,37.57,126.98\n";

std::vector<CatalogProblem> problemsOf(const std::string& text,
                                       CatalogFormat format = CatalogFormat::kCsv) {
  auto result =
      parseCatalog(text, format, format == CatalogFormat::kCsv ? "catalog.csv" : "c.json");
  if (result.ok()) return {};
  return result.error();
}

std::vector<std::string> reportOf(const std::string& text,
                                  CatalogFormat format = CatalogFormat::kCsv) {
  std::vector<std::string> lines;
  for (const CatalogProblem& problem : problemsOf(text, format)) {
    lines.push_back(problem.toString());
  }
  return lines;
}

using Report = std::vector<std::string>;

TEST(CatalogImportTest, ReadsEveryCsvRowKind) {
  const std::string text =
      "\xEF\xBB\xBF"  // Excel's byte order mark
      "kind,code or id,name\n"
      "# 시/도 first\n"
      "\n"
      "region,11,서울특별시,\r\n" +
      std::string("region,11110,\"종로구\",11\n") +
      "   \n"
      "clinic,100,\"열린 \"\"365\"\" 의원, 본점\",\"서울특별시 종로구 율곡로 "
      "1\",11110,37.5,-126.25\n"
      "slot,100,2026-12-01,08:15,3\n"
      "slots,100,2026-12-01,2026-12-02,09:00,10:00,30,5\n";
  auto result = parseCatalog(text, CatalogFormat::kCsv, "catalog.csv");
  ASSERT_TRUE(result.ok()) << result.error().front().toString();
  const CatalogData& catalog = *result;
  ASSERT_EQ(catalog.regions.size(), 2u);
  EXPECT_EQ(catalog.regions[0].code, "11");
  EXPECT_EQ(catalog.regions[0].parent, "");
  EXPECT_EQ(catalog.regions[1].name, "종로구");
  ASSERT_EQ(catalog.clinics.size(), 1u);
  EXPECT_EQ(catalog.clinics[0].id, 100);
  EXPECT_EQ(catalog.clinics[0].name, "열린 \"365\" 의원, 본점");
  EXPECT_EQ(catalog.clinics[0].address, "서울특별시 종로구 율곡로 1");
  EXPECT_EQ(catalog.clinics[0].lat, 37.5);
  EXPECT_EQ(catalog.clinics[0].lng, -126.25);
  // One `slot`, then the grid date by date: 2 days x 09:00, 09:30, 10:00.
  ASSERT_EQ(catalog.slots.size(), 7u);
  const int32_t day = *parseDate("2026-12-01");
  EXPECT_EQ(catalog.slots[0].minute, 8 * 60 + 15);
  EXPECT_EQ(catalog.slots[0].capacity, 3);
  EXPECT_EQ(catalog.slots[1].day, day);
  EXPECT_EQ(catalog.slots[3].minute, 10 * 60);
  EXPECT_EQ(catalog.slots[4].day, day + 1);
  EXPECT_EQ(catalog.slots[4].minute, 9 * 60);
  EXPECT_EQ(catalog.slots[6].capacity, 5);
}

TEST(CatalogImportTest, EachBadCsvRowNamesItsLineAndField) {
  const std::string long_name(201, 'a');
  const std::string long_address(301, 'b');
  const std::pair<std::string, std::string> cases[] = {
      {"clinic,101,A,addr,11110,abc,127", "clinic 101: lat \"abc\" is not a number"},
      {"clinic,101,A,addr,11110,91,127", "clinic 101: lat 91 is outside -90..90"},
      {"clinic,101,A,addr,11110,37,-180.5", "clinic 101: lng -180.5 is outside -180..180"},
      {"clinic,101,A,addr,11110,37,nan", "clinic 101: lng \"nan\" is not a number"},
      {"clinic,abc,A,addr,11110,37,127", "clinic abc: id \"abc\" is not a number"},
      {"clinic,0,A,addr,11110,37,127", "clinic 0: id 0 is outside 1..9007199254740992"},
      {"clinic,9007199254740993,A,addr,11110,37,127",
       "clinic 9007199254740993: id 9007199254740993 is outside 1..9007199254740992"},
      {"clinic,101,,addr,11110,37,127", "clinic 101: name is empty"},
      {"clinic,101," + long_name + ",addr,11110,37,127",
       "clinic 101: name is 201 bytes, over the limit of 200"},
      {"clinic,101,A," + long_address + ",11110,37,127",
       "clinic 101: address is 301 bytes, over the limit of 300"},
      {"clinic,101,A\tB,addr,11110,37,127", "clinic 101: name \"A\\x09B\" has a control character"},
      {"clinic,101,A,\xC2\x85,11110,37,127",  // U+0085, a C1 control
       "clinic 101: address \"\\xC2\\x85\" has a control character"},
      {"clinic,101,A\xFF,addr,11110,37,127", "clinic 101: name \"A\\xFF\" is not valid UTF-8"},
      {"clinic,101,\xE1\x84,addr,11110,37,127",  // a truncated sequence
       "clinic 101: name \"\\xE1\\x84\" is not valid UTF-8"},
      {"clinic,101,A,addr,,37,127", "clinic 101: region is empty"},
      {"clinic,101,A,addr,11110,37",
       "clinic row has 6 fields, expected 7: clinic,id,name,address,region,lat,lng"},
      {"region,1,X,", "region 1: code \"1\" is neither 2 digits (시/도) nor 5 digits (시/군/구)"},
      {"region,1111a,X,11",
       "region 1111a: code \"1111a\" is neither 2 digits (시/도) nor 5 digits (시/군/구)"},
      {"region,27,X,11", "region 27: parent \"11\" given, but a 시/도 has no parent"},
      {"region,11120,X,26",
       "region 11120: parent \"26\" is not \"11\", the 시/도 in the code's first two digits"},
      {"region,11130,,11", "region 11130: name is empty"},
      {"region,11130,X", "region row has 3 fields, expected 4: region,code,name,parent"},
      {"slot,100,2026-02-30,09:00,5",
       "slot for clinic 100: date \"2026-02-30\" is not a date (YYYY-MM-DD)"},
      {"slot,100,2026-12-01,9:00,5", "slot for clinic 100: time \"9:00\" is not a time (HH:MM)"},
      {"slot,100,2026-12-01,09:00,0", "slot for clinic 100: capacity 0 is outside 1..10000"},
      {"slot,100,2026-12-01,09:00,10001",
       "slot for clinic 100: capacity 10001 is outside 1..10000"},
      {"slot,100,2026-12-01,09:00,five", "slot for clinic 100: capacity \"five\" is not a number"},
      {"slot,x1,2026-12-01,09:00,5", "slot for clinic x1: clinic id \"x1\" is not a number"},
      {"slots,100,2026-12-01,2026-12-02,09:00,10:00,4,5",
       "slots for clinic 100: step minutes 4 is outside 5..720"},
      {"slots,100,2026-12-01,2026-12-02,09:00,10:00,721,5",
       "slots for clinic 100: step minutes 721 is outside 5..720"},
      {"slots,100,2026-12-02,2026-12-01,09:00,10:00,30,5",
       "slots for clinic 100: last date 2026-12-01 is before the first 2026-12-02"},
      {"slots,100,2026-12-01,2026-12-02,10:00,09:00,30,5",
       "slots for clinic 100: last time 09:00 is before the first 10:00"},
      {"slots,100,2026-12-01,2026-12-32,09:00,10:00,30,5",
       "slots for clinic 100: last date \"2026-12-32\" is not a date (YYYY-MM-DD)"},
      {"slots,100,2026-12-01,2026-12-02,09:00,10:00,30",
       "slots row has 7 fields, expected 8: slots,clinic id,first date,last date,first time,"
       "last time,step minutes,capacity"},
      {"clinics,100",
       "unknown record kind \"clinics\" (expected time_zone, region, clinic, slot or slots)"},
      {"kind,code",
       "unknown record kind \"kind\" (expected time_zone, region, clinic, slot or slots)"},
      {"clinic,101,\"A\"B,addr,11110,37,127", "field 3 has text after its closing quote"},
      {"clinic,101,A\"B\",addr,11110,37,127",
       "field 3 has a quote but does not start with one (quote the field, double the quote)"},
      {"clinic,101,A,addr,11110, 37,127", "clinic 101: lat \" 37\" is not a number"},
  };
  for (const auto& [row, reason] : cases) {
    EXPECT_EQ(reportOf(kRegions + kGoodClinic + row + "\n"), Report{"catalog.csv:6: " + reason})
        << row;
  }
}

TEST(CatalogImportTest, LineNumbersCountNewlinesInsideQuotedFields) {
  const std::string text =
      "kind,\"notes that\n"  // a header whose cell spans two lines
      "span lines\"\n" +
      kRegions +  // lines 3-6
      "clinic,100,\"종로\n"
      "연세내과의원\",율곡로 1,11110,37.57,126.98\n"  // line 7, refused: a newline in a name
      "# a comment\n"
      "clinic,101,A,\"주소\r\n"
      "둘째 줄\",11110,north,126.98\n"  // line 10: the address and lat are both wrong
      "slot,101,2026-12-01,09:00,0\n";  // line 12
  EXPECT_EQ(reportOf(text),
            (Report{
                "catalog.csv:7: clinic 100: name \"종로\\x0A연세내과의원\" has a control character",
                "catalog.csv:10: clinic 101: address \"주소\\x0D\\x0A둘째 줄\" has a control "
                "character",
                "catalog.csv:10: clinic 101: lat \"north\" is not a number",
                "catalog.csv:12: slot for clinic 101: capacity 0 is outside 1..10000",
            }));
}

TEST(CatalogImportTest, UnterminatedQuoteIsReportedWhereTheRecordStarts) {
  EXPECT_EQ(reportOf(kRegions + "clinic,100,\"A,addr,11110,37,127\nslot,100,2026-12-01,09:00,5\n"),
            Report{"catalog.csv:5: field 3 has an unterminated quote"});
}

TEST(CatalogImportTest, AFileWithGoodAndBadRowsYieldsOnlyProblems) {
  auto result = parseCatalog(
      kRegions + kGoodClinic + "slot,100,2026-12-01,09:00,5\n" + "slot,100,2026-12-01,09:30,-1\n",
      CatalogFormat::kCsv, "catalog.csv");
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.error().size(), 1u);
  EXPECT_EQ(result.error()[0].line, 7u);
  EXPECT_EQ(result.error()[0].source, "catalog.csv");
}

TEST(CatalogImportTest, StopsAfterAHundredProblems) {
  std::string text = kRegions;
  for (int i = 0; i < 150; ++i) {
    text += "clinic," + std::to_string(1000 + i) + ",,a,11110,37,127\n";
  }
  auto problems = problemsOf(text);
  ASSERT_EQ(problems.size(), kMaxCatalogProblems);
  EXPECT_EQ(problems.front().line, 5u);
  EXPECT_EQ(problems.back().toString(), "catalog.csv:104: clinic 1099: name is empty");
}

TEST(CatalogImportTest, CrossRowProblemsNameTheLaterRow) {
  const std::string text = kRegions +                       // 1-4
                           "region,11110,종로구,11\n"       // 5
                           "region,27110,중구,27\n"         // 6: 대구 is missing
                           + kGoodClinic +                  // 7
                           "clinic,100,B,b,11110,37,127\n"  // 8
                           "clinic,101,C,c,99999,37,127\n"  // 9
                           "clinic,102,D,d,26,37,127\n"     // 10
                           "slots,100,2026-12-01,2026-12-03,09:00,12:00,30,5\n"  // 11
                           "slot,100,2026-12-02,10:00,7\n"                       // 12
                           "slots,100,2026-12-03,2026-12-03,11:30,12:30,30,5\n"  // 13
                           "slot,555,2026-12-02,10:00,7\n"                       // 14
                           "slot,555,2026-12-02,10:30,7\n";                      // 15
  EXPECT_EQ(reportOf(text),
            (Report{
                "catalog.csv:5: region 11110: duplicate code (first on line 2)",
                "catalog.csv:6: region 27110: unknown parent \"27\"",
                "catalog.csv:8: clinic 100: duplicate id (first on line 7)",
                "catalog.csv:9: clinic 101: unknown region \"99999\"",
                "catalog.csv:10: clinic 102: region \"26\" is a 시/도, not a 시/군/구",
                "catalog.csv:14: slot for clinic 555: unknown clinic",
                "catalog.csv:12: slot for clinic 100: 2026-12-02 10:00 is listed twice (first on "
                "line 11)",
                "catalog.csv:13: slot for clinic 100: 2026-12-03 11:30 and 1 more of this row's "
                "slots are listed twice (first on line 11)",
            }));
}

TEST(CatalogImportTest, RefusedRowsDoNotDragTheirReferencesAlong) {
  // The clinic's lat and the region's name are wrong; what points at them is not reported too.
  const std::string text = kRegions +
                           "region,11140,,11\n"                                   // 5
                           "clinic,100,A,a,11140,37,127\n"                        // 6
                           "clinic,101,B,b,11110,x,127\n"                         // 7
                           "slots,101,2026-12-01,2026-12-03,09:00,12:00,30,5\n";  // 8
  EXPECT_EQ(reportOf(text), (Report{
                                "catalog.csv:5: region 11140: name is empty",
                                "catalog.csv:7: clinic 101: lat \"x\" is not a number",
                            }));
}

TEST(CatalogImportTest, RefusesSlotRowsThatWouldExhaustMemory) {
  // Each row is 73,049 days x 288 times; the third takes the file past kMaxCatalogSlots. Rows are
  // counted before they are expanded, so this test allocates next to nothing.
  const std::string huge = "slots,100,2000-01-01,2199-12-31,00:00,23:55,5,5\n";
  EXPECT_EQ(reportOf(kRegions + kGoodClinic + huge + huge + huge),
            Report{"catalog.csv:8: slots for clinic 100: its 21038112 slots take the catalog "
                   "past the limit of 50000000"});
}

// The same catalog as kRegions + kGoodClinic + a few slots, in both formats.
const std::string kSameCatalogCsv = kRegions + kGoodClinic +
                                    "clinic,200,\"부산 \"\"튼튼\"\" 의원\",,26110,35.1,129.0\n"
                                    "slot,200,2026-12-01,09:00,1\n"
                                    "slots,100,2026-12-01,2026-12-03,09:00,17:30,30,20\n"
                                    "slot,100,2026-12-04,08:00,10000\n";
const std::string kSameCatalogJson = R"({
  "regions": [
    {"code": "11", "name": "서울특별시", "parent": ""},
    {"code": "11110", "name": "종로구", "parent": "11"},
    {"code": "26", "name": "부산광역시"},
    {"code": "26110", "name": "\uc911\uad6c", "parent": "26"}
  ],
  "clinics": [
    {"id": 100, "name": "종로 연세내과의원", "address": "서울특별시 종로구 율곡로 1",
     "region": "11110", "lat": 37.57, "lng": 126.98},
    {"id": 200, "name": "부산 \"튼튼\" 의원", "address": "", "region": "26110", "lat": 35.1,
     "lng": 129}
  ],
  "slots": [
    {"clinic_id": 200, "date": "2026-12-01", "time": "09:00", "capacity": 1},
    {"clinic_id": 100, "dates": {"from": "2026-12-01", "to": "2026-12-03"},
     "times": {"from": "09:00", "to": "17:30", "step_minutes": 30}, "capacity": 20},
    {"capacity": 10000, "time": "08:00", "date": "2026-12-04", "clinic_id": 100}
  ]
}
)";

TEST(CatalogImportTest, CsvAndJsonOfTheSameCatalogReadTheSame) {
  auto csv = parseCatalog(kSameCatalogCsv, CatalogFormat::kCsv, "c.csv");
  auto json = parseCatalog(kSameCatalogJson, CatalogFormat::kJson, "c.json");
  ASSERT_TRUE(csv.ok()) << csv.error().front().toString();
  ASSERT_TRUE(json.ok()) << json.error().front().toString();
  EXPECT_EQ(csv->slots.size(), 1u + 3 * 18 + 1);
  EXPECT_TRUE(test::sameCatalog(*csv, *json));
}

TEST(CatalogImportTest, EachBadJsonElementNamesItsLine) {
  const std::string text = R"({
  "regions": [
    {"code": "11", "name": "서울특별시", "parent": ""},
    {"code": "11110",
     "name": "종로구", "parent": "11", "population": 141},
    {"code": 26110, "name": "중구", "parent": "26"},
    {"code": "11120", "name": "X", "parent": "26"},
    ["not", "an", "object"],
    {"name": "이름만"}
  ],
  "clinics": [
    {"id": 100, "name": "A", "address": "a", "region": "11110", "lat": 37, "lng": 127},
    {"id": 101, "name": "B", "address": "b", "region": "11110", "lat": "37", "lng": 127},
    {"id": 102.5, "name": "C", "address": "c", "region": "11110", "lat": 37, "lng": 127},
    {"id": 103, "name": "D\u0007", "address": "d", "region": "11110", "lat": 91, "lng": 127},
    {"id": "104", "name": null, "region": "11110", "lat": 37, "lng": true},
    {"id": 18446744073709551615, "name": "F", "address": "f", "region": "11110", "lat": 37,
     "lng": 127},
    "nope"
  ],
  "slots": [
    {"clinic_id": 100, "date": "2026-12-01", "time": "09:00", "capacity": 0},
    {"clinic_id": 100, "dates": {"from": "2026-12-01", "to": "2026-12-02"},
     "times": {"from": "09:00", "to": "10:00", "step_minutes": 3}, "capacity": 5},
    {"clinic_id": 100, "date": "2026-12-01", "dates": {"from": "2026-12-01", "to": "2026-12-01"}},
    {"clinic_id": 100, "dates": ["2026-12-01"], "times": {"from": "9", "to": "10:00",
     "step_minutes": 30, "every": 1}, "capacity": 5},
    {"clinic_id": 100, "date": "2026-12-01", "time": "09:00", "capacity": 5, "note": ""},
    {"clinic_id": 0, "dates": {"from": "2026-12-02", "to": "2026-12-01"},
     "times": {"from": "10:00", "to": "09:00", "step_minutes": 30}, "capacity": 5}
  ],
  "version": 2
}
)";
  EXPECT_EQ(
      reportOf(text, CatalogFormat::kJson),
      (Report{
          "c.json:32: unknown key \"version\" at the top level",
          "c.json:4: region 11110: unknown key \"population\"",
          "c.json:6: regions[2]: code must be a string, not a number",
          "c.json:7: region 11120: parent \"26\" is not \"11\", the 시/도 in the code's first two "
          "digits",
          "c.json:8: regions[4] must be an object, not an array",
          "c.json:9: regions[5]: missing \"code\"",
          "c.json:13: clinic 101: lat must be a number, not a string",
          "c.json:14: clinics[2]: id must be an integer, not a fraction",
          "c.json:15: clinic 103: name \"D\\x07\" has a control character",
          "c.json:15: clinic 103: lat 91 is outside -90..90",
          "c.json:16: clinics[4]: id must be an integer, not a string",
          "c.json:16: clinics[4]: name must be a string, not null",
          "c.json:16: clinics[4]: missing \"address\"",
          "c.json:16: clinics[4]: lng must be a number, not a boolean",
          "c.json:17: clinics[5]: id 18446744073709551615 is outside 1..9007199254740992",
          "c.json:19: clinics[6] must be an object, not a string",
          "c.json:22: slot for clinic 100: capacity 0 is outside 1..10000",
          "c.json:23: slots for clinic 100: step_minutes 3 is outside 5..720",
          "c.json:25: slots for clinic 100: mixes \"date\"/\"time\" (one slot) with "
          "\"dates\"/\"times\" (a grid)",
          "c.json:25: slots for clinic 100: missing \"times\"",
          "c.json:25: slots for clinic 100: missing \"capacity\"",
          "c.json:26: slots for clinic 100: dates must be an object, not an array",
          "c.json:26: slots for clinic 100: unknown key \"every\"",
          "c.json:26: slots for clinic 100: times.from \"9\" is not a time (HH:MM)",
          "c.json:28: slot for clinic 100: unknown key \"note\"",
          "c.json:29: slots[5]: clinic_id 0 is outside 1..9007199254740992",
          "c.json:29: slots[5]: dates.to 2026-12-01 is before the first 2026-12-02",
          "c.json:29: slots[5]: times.to 09:00 is before the first 10:00",
      }));
}

TEST(CatalogImportTest, JsonSyntaxErrorsNameTheirLine) {
  struct Case {
    std::string text;
    size_t line;
  };
  const Case cases[] = {
      {"{\n  \"regions\": [\n    {\"code\": \"11\",}\n  ]\n}\n", 3},
      {"{\n  \"regions\": [\n    {\"code\": \"11\n\"}]}", 3},  // a raw newline in a string
      {"{\n  \"regions\": []\n}\n{}", 4},                      // a second document
      {"{\"regions\": [\n", 2},
      {"", 1},
      {"{\n\"clinics\": [{\"name\": \"\xFF\"}]}", 2},
  };
  for (const Case& c : cases) {
    auto problems = problemsOf(c.text, CatalogFormat::kJson);
    ASSERT_EQ(problems.size(), 1u) << c.text;
    EXPECT_EQ(problems[0].line, c.line) << c.text << "\n" << problems[0].toString();
    EXPECT_EQ(problems[0].reason.rfind("invalid JSON: ", 0), 0u) << problems[0].reason;
  }
  EXPECT_EQ(
      reportOf("{\"regions\": [\n  {\"code\": \"11\",\n   \"code\": \"26\", \"name\": \"x\"}]}",
               CatalogFormat::kJson),
      Report{"c.json:3: duplicate key \"code\""});
  EXPECT_EQ(reportOf("[1, 2]", CatalogFormat::kJson),
            Report{"c.json:1: the top level must be an object with \"regions\", \"clinics\" and "
                   "\"slots\", not an array"});
  EXPECT_EQ(reportOf("{\n\"regions\": {}}", CatalogFormat::kJson),
            Report{"c.json:2: \"regions\" must be an array, not an object"});
}

TEST(CatalogImportTest, JsonCrossRowProblemsNameTheElementLine) {
  const std::string text = R"({"slots": [
  {"clinic_id": 100, "date": "2026-12-01", "time": "09:00", "capacity": 5},
  {"clinic_id": 100, "date": "2026-12-01", "time": "09:00", "capacity": 5}
], "regions": [{"code": "11", "name": "서울특별시"},
  {"code": "11110", "name": "종로구", "parent": "11"}],
"clinics": [{"id": 100, "name": "A", "address": "a", "region": "11110", "lat": 37, "lng": 127},
  {"id": 100, "name": "A", "address": "a", "region": "11110", "lat": 37, "lng": 127}]}
)";
  EXPECT_EQ(reportOf(text, CatalogFormat::kJson),
            (Report{
                "c.json:7: clinic 100: duplicate id (first on line 6)",
                "c.json:3: slot for clinic 100: 2026-12-01 09:00 is listed twice (first on line 2)",
            }));
}

TEST(CatalogImportTest, ValidatesCatalogsFromAnySource) {
  CatalogData catalog;
  catalog.regions = {{"11", "서울특별시", ""}, {"11110", "종로구", "11"}};
  catalog.clinics = {{100, "A", "a", "11110", 37, 127}};
  catalog.slots = {{100, *parseDate("2026-12-01"), 540, 5}};
  EXPECT_TRUE(validateCatalog(catalog, "generated").empty());

  catalog.slots.push_back({100, 3, 1440, 0});
  catalog.slots.push_back({100, *parseDate("2026-12-01"), 540, 5});
  std::vector<std::string> report;
  for (const CatalogProblem& problem : validateCatalog(catalog, "generated")) {
    report.push_back(problem.toString());
  }
  EXPECT_EQ(report, (Report{
                        "generated: slot for clinic 100: day 3 is outside 2000-01-01..2199-12-31",
                        "generated: slot for clinic 100: minute 1440 is outside 00:00..23:59",
                        "generated: slot for clinic 100: capacity 0 is outside 1..10000",
                        "generated: slot for clinic 100: 2026-12-01 09:00 is listed twice",
                    }));
}

TEST(CatalogImportTest, FormatFollowsTheFileName) {
  EXPECT_EQ(catalogFormatFor("catalog.json"), CatalogFormat::kJson);
  EXPECT_EQ(catalogFormatFor("/data/CATALOG.JSON"), CatalogFormat::kJson);
  EXPECT_EQ(catalogFormatFor("catalog.csv"), CatalogFormat::kCsv);
  EXPECT_EQ(catalogFormatFor("catalog.json.csv"), CatalogFormat::kCsv);
  EXPECT_EQ(catalogFormatFor("json"), CatalogFormat::kCsv);
  EXPECT_EQ(catalogFormatFor(""), CatalogFormat::kCsv);
}

TEST(CatalogImportTest, ProblemsPrintAsSourceLineReason) {
  EXPECT_EQ((CatalogProblem{"catalog.csv", 12, "clinic 100: unknown region \"99999\""}.toString()),
            "catalog.csv:12: clinic 100: unknown region \"99999\"");
  EXPECT_EQ((CatalogProblem{"catalog.csv", 0, "too big"}.toString()), "catalog.csv: too big");
}

TEST(CatalogImportTest, EmptyFilesAreEmptyCatalogs) {
  auto csv = parseCatalog("# nothing yet\n", CatalogFormat::kCsv, "c.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_TRUE(csv->regions.empty());
  auto json = parseCatalog("{}", CatalogFormat::kJson, "c.json");
  ASSERT_TRUE(json.ok());
  EXPECT_TRUE(json->slots.empty());
}

}  // namespace
}  // namespace surge::origin
