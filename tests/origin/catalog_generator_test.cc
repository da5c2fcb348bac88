#include "surge/origin/catalog_generator.h"

#include <gtest/gtest.h>

#include "test_catalog.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "surge/origin/calendar.h"
#include "surge/origin/catalog_import.h"

namespace surge::origin {
namespace {

CatalogData parsedCsv(const std::string& text) {
  auto result = parseCatalog(text, CatalogFormat::kCsv, "generated.csv");
  if (!result.ok()) {
    ADD_FAILURE() << result.error().front().toString();
    return {};
  }
  return std::move(result).value();
}

size_t rowsOfKind(const std::string& csv, const std::string& kind) {
  size_t rows = 0;
  std::istringstream lines(csv);
  for (std::string line; std::getline(lines, line);) {
    rows += line.rfind(kind + ",", 0) == 0;
  }
  return rows;
}

CatalogGeneratorOptions smallOptions() {
  CatalogGeneratorOptions options;
  options.clinics = 400;
  options.days = 3;
  return options;
}

TEST(CatalogGeneratorTest, KoreanRegionsAreTheRealOnes) {
  const std::vector<Region>& regions = koreanRegions();
  std::map<std::string, std::string> provinces;
  std::map<std::string, std::string> districts;
  for (const Region& region : regions) {
    auto& into = region.parent.empty() ? provinces : districts;
    EXPECT_TRUE(into.emplace(region.code, region.name).second) << "duplicate " << region.code;
  }
  EXPECT_EQ(provinces, (std::map<std::string, std::string>{
                           {"11", "서울특별시"},
                           {"26", "부산광역시"},
                           {"27", "대구광역시"},
                           {"28", "인천광역시"},
                           {"29", "광주광역시"},
                           {"30", "대전광역시"},
                           {"31", "울산광역시"},
                           {"36", "세종특별자치시"},
                           {"41", "경기도"},
                           {"43", "충청북도"},
                           {"44", "충청남도"},
                           {"46", "전라남도"},
                           {"47", "경상북도"},
                           {"48", "경상남도"},
                           {"50", "제주특별자치도"},
                           {"51", "강원특별자치도"},
                           {"52", "전북특별자치도"},
                       }));
  EXPECT_GE(districts.size(), 220u);
  EXPECT_LE(districts.size(), 260u);
  EXPECT_EQ(districts["11110"], "종로구");
  EXPECT_EQ(districts["11740"], "강동구");
  EXPECT_EQ(districts["36110"], "세종특별자치시");
  EXPECT_EQ(districts["41110"], "수원시");
  EXPECT_EQ(districts["27720"], "군위군");
  EXPECT_EQ(std::count_if(districts.begin(), districts.end(),
                          [](const auto& d) { return d.first.rfind("11", 0) == 0; }),
            25);

  CatalogData catalog;
  catalog.regions = regions;
  EXPECT_TRUE(validateCatalog(catalog, "koreanRegions").empty());

  ASSERT_EQ(koreanRegionFacts().size(), regions.size());
  for (size_t i = 0; i < regions.size(); ++i) {
    EXPECT_GT(koreanRegionFacts()[i].population_thousands, 0) << regions[i].code;
  }
}

TEST(CatalogGeneratorTest, DefaultCatalogHasTheAdvertisedShape) {
  const CatalogGeneratorOptions options;
  const CatalogData catalog = generateCatalog(options);
  EXPECT_TRUE(validateCatalog(catalog, "generated").empty());

  size_t provinces = 0;
  std::map<std::string, size_t> clinics_per_district;
  for (const Region& region : catalog.regions) {
    if (region.code.size() == 2) ++provinces;
    if (region.code.size() == 5) clinics_per_district[region.code] = 0;
  }
  EXPECT_EQ(provinces, 17u);

  ASSERT_EQ(catalog.clinics.size(), 14000u);
  std::set<std::string> first_names;
  for (size_t i = 0; i < catalog.clinics.size(); ++i) {
    const Clinic& clinic = catalog.clinics[i];
    EXPECT_EQ(clinic.id, 100001 + static_cast<int64_t>(i));
    ASSERT_EQ(clinic.region.size(), 5u);
    ASSERT_TRUE(clinics_per_district.count(clinic.region)) << clinic.region;
    if (clinics_per_district[clinic.region]++ == 0) {
      EXPECT_NE(clinic.name.find("보건소"), std::string::npos) << clinic.name;
    }
    EXPECT_GT(clinic.lat, 33.0);
    EXPECT_LT(clinic.lat, 38.7);
    EXPECT_GT(clinic.lng, 124.5);
    EXPECT_LT(clinic.lng, 131.0);
  }
  size_t capital_area = 0;
  for (const auto& [code, clinics] : clinics_per_district) {
    EXPECT_GE(clinics, 1u) << code;
    if (code.rfind("11", 0) == 0 || code.rfind("41", 0) == 0) capital_area += clinics;
  }
  // 서울 and 경기 hold 45% of the people, so they hold a like share of clinics.
  EXPECT_GT(capital_area, 14000u * 40 / 100);
  EXPECT_LT(capital_area, 14000u * 50 / 100);
  EXPECT_GT(clinics_per_district["41110"], clinics_per_district["47940"] * 20);  // 수원 vs 울릉

  ASSERT_EQ(catalog.slots.size(), 3528000u);
  std::map<int64_t, int32_t> capacity_of;
  for (const Slot& slot : catalog.slots) {
    ASSERT_GE(slot.capacity, 5);
    ASSERT_LE(slot.capacity, 30);
    auto [it, inserted] = capacity_of.emplace(slot.clinic_id, slot.capacity);
    ASSERT_EQ(it->second, slot.capacity) << "one capacity per clinic";
  }
  std::set<int32_t> capacities;
  for (const auto& [id, capacity] : capacity_of) {
    capacities.insert(capacity);
  }
  EXPECT_EQ(capacities.size(), 26u) << "every capacity in 5..30 occurs";
  EXPECT_EQ(formatDate(catalog.slots.front().day), "2026-12-01");
  EXPECT_EQ(formatTime(catalog.slots.front().minute), "09:00");
  EXPECT_EQ(formatDate(catalog.slots.back().day), "2026-12-14");
  EXPECT_EQ(formatTime(catalog.slots.back().minute), "17:30");
}

TEST(CatalogGeneratorTest, SameSeedSameCatalogOtherSeedOther) {
  const CatalogData first = generateCatalog(smallOptions());
  EXPECT_TRUE(test::sameCatalog(first, generateCatalog(smallOptions())));

  CatalogGeneratorOptions other = smallOptions();
  other.seed += 1;
  const CatalogData second = generateCatalog(other);
  ASSERT_EQ(second.clinics.size(), first.clinics.size());
  size_t differing = 0;
  for (size_t i = 0; i < first.clinics.size(); ++i) {
    differing += first.clinics[i].lat != second.clinics[i].lat ||
                 first.clinics[i].name != second.clinics[i].name;
  }
  EXPECT_GT(differing, first.clinics.size() * 9 / 10);
}

TEST(CatalogGeneratorTest, FewerClinicsThanDistrictsGoToTheMostPopulous) {
  CatalogGeneratorOptions options = smallOptions();
  options.clinics = 3;
  const CatalogData catalog = generateCatalog(options);
  ASSERT_EQ(catalog.clinics.size(), 3u);
  std::set<std::string> regions;
  for (const Clinic& clinic : catalog.clinics) {
    regions.insert(clinic.region);
  }
  EXPECT_EQ(regions, (std::set<std::string>{"41110", "41280", "41460"}));  // 수원, 고양, 용인

  options.clinics = 0;
  EXPECT_TRUE(generateCatalog(options).slots.empty());
  EXPECT_EQ(generateCatalog(options).regions.size(), koreanRegions().size());
}

TEST(CatalogGeneratorTest, RefusesOptionsItCannotHonour) {
  EXPECT_FALSE(checkGeneratorOptions(CatalogGeneratorOptions{}).has_value());
  auto problemWith = [](auto change) {
    CatalogGeneratorOptions options;
    change(options);
    EXPECT_TRUE(generateCatalog(options).clinics.empty());
    return checkGeneratorOptions(options).value_or("");
  };
  EXPECT_NE(problemWith([](auto& o) { o.first_date = "2026-13-01"; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.days = 0; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.first_date = "2199-12-30"; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.first_time = "9:00"; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.last_time = "08:30"; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.min_capacity = 0; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.max_capacity = 4; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.max_capacity = 10001; }), "");
  EXPECT_NE(problemWith([](auto& o) { o.clinics = 3'000'000; }), "");
}

TEST(CatalogGeneratorTest, CsvOfAGeneratedCatalogReadsBackExactly) {
  const CatalogData catalog = generateCatalog(smallOptions());
  const std::string csv = writeCatalogCsv(catalog);
  EXPECT_EQ(rowsOfKind(csv, "slots"), catalog.clinics.size()) << "one grid row per clinic";
  EXPECT_EQ(rowsOfKind(csv, "slot"), 0u);
  EXPECT_TRUE(test::sameCatalog(parsedCsv(csv), catalog));
}

TEST(CatalogGeneratorTest, CsvOfAnIrregularCatalogReadsBackExactly) {
  const int32_t day = *parseDate("2026-12-01");
  CatalogData catalog;
  catalog.regions = {{"11", "서울특별시", ""}, {"11110", "종로구", "11"}};
  catalog.clinics = {
      {1, "\"열린\" 의원, 본점", "서울 종로구 \"율곡로\" 1, 2층", "11110", -0.000001, 126.9781234},
      {2, "# 해시로 시작", "", "11110", 37.5, 1e-7},
      {3, "B", "b", "11110", 89.999999, -179.5},
      {9007199254740992, "최대 id", "c", "11110", 0, 0},
  };
  catalog.slots = {
      // clinic 1: a grid but for one capacity
      {1, day, 540, 5},
      {1, day, 570, 5},
      {1, day + 1, 540, 5},
      {1, day + 1, 570, 6},
      // clinic 2: a gap between days, then a lone slot
      {2, day, 600, 3},
      {2, day + 2, 600, 3},
      // clinic 3: one time a day on three days (a grid), then clinic 2 again
      {3, day, 720, 10000},
      {3, day + 1, 720, 10000},
      {3, day + 2, 720, 10000},
      {2, day + 5, 0, 1},
      // clinic 1 again: steps of 5 minutes (a grid), then steps of 3 (not one)
      {1, day + 9, 1425, 2},
      {1, day + 9, 1430, 2},
      {1, day + 9, 1435, 2},
      {9007199254740992, day, 0, 1},
      {9007199254740992, day, 3, 1},
      {9007199254740992, day, 6, 1},
      // a single slot, and a time out of order within a day
      {3, day + 20, 60, 7},
      {1, day + 30, 600, 1},
      {1, day + 30, 540, 1},
  };
  ASSERT_TRUE(validateCatalog(catalog, "irregular").empty());
  const std::string csv = writeCatalogCsv(catalog);
  EXPECT_EQ(rowsOfKind(csv, "slots"), 2u) << csv;
  EXPECT_EQ(rowsOfKind(csv, "slot"), 13u) << csv;
  EXPECT_TRUE(test::sameCatalog(parsedCsv(csv), catalog)) << csv;
}

TEST(CatalogGeneratorTest, ShippedSampleIsTheDefaultCatalog) {
  const auto path =
      std::filesystem::path(__FILE__).parent_path() / "../../origin/data/sample-catalog.csv";
  std::ifstream file(path, std::ios::binary);
  ASSERT_TRUE(file) << "cannot open " << path;
  std::stringstream contents;
  contents << file.rdbuf();
  const std::string text = contents.str();

  const CatalogGeneratorOptions defaults;
  const CatalogData generated = generateCatalog(defaults);
  // The generator promises the same bytes on every machine; the sample is that promise kept.
  EXPECT_TRUE(text == generatedCatalogComment(defaults) + writeCatalogCsv(generated))
      << "regenerate origin/data/sample-catalog.csv with `surgectl catalog generate`";

  auto parsed = parseCatalog(text, CatalogFormat::kCsv, path.string());
  ASSERT_TRUE(parsed.ok()) << parsed.error().front().toString();
  EXPECT_EQ(parsed->regions.size(), koreanRegions().size());
  EXPECT_EQ(parsed->clinics.size(), 14000u);
  EXPECT_EQ(parsed->slots.size(), 3528000u);
  EXPECT_TRUE(test::sameCatalog(*parsed, generated));
}

}  // namespace
}  // namespace surge::origin
