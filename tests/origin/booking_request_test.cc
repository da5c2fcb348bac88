#include "surge/origin/booking_request.h"

#include <gtest/gtest.h>

namespace surge::origin {
namespace {

void expectSame(std::string_view body) {
  auto fast = parseBookingRequest(body);
  auto slow = parseBookingRequestSlow(body);
  ASSERT_EQ(fast.ok(), slow.ok()) << body;
  if (fast.ok()) {
    EXPECT_EQ(fast->clinic_id, slow->clinic_id) << body;
    EXPECT_EQ(fast->date, slow->date) << body;
    EXPECT_EQ(fast->time, slow->time) << body;
    EXPECT_EQ(fast->person_id, slow->person_id) << body;
  } else {
    EXPECT_EQ(fast.error().code, slow.error().code) << body;
    EXPECT_EQ(fast.error().status, slow.error().status) << body;
  }
}

TEST(BookingRequestTest, ParsesTheUsualShape) {
  auto r = parseBookingRequest(
      R"({"clinic_id":100001,"date":"2026-12-01","time":"09:30","person_id":"p-1"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->clinic_id, 100001);
  EXPECT_EQ(r->date, "2026-12-01");
  EXPECT_EQ(r->minute, 570);
  EXPECT_EQ(r->person_id, "p-1");
}

TEST(BookingRequestTest, BothPathsAgree) {
  for (
      std::string_view body : {
          R"({"clinic_id":100001,"date":"2026-12-01","time":"09:30","person_id":"p-1"})",
          R"( { "person_id" : "p" , "time":"09:30","date":"2026-12-01","clinic_id":7 } )",
          R"({"clinic_id":100001,"date":"2026-12-01","time":"09:30","person_id":"p\u002d1"})",
          R"({"clinic_id":100001,"date":"2026\u002d12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":0100001,"date":"2026-12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":-5,"date":"2026-12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":1.5,"date":"2026-12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":1e3,"date":"2026-12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":99999999999999999999,"date":"2026-12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":"1","date":"2026-12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":1,"clinic_id":2,"date":"2026-12-01","time":"09:30","person_id":"p"})",
          R"({"clinic_id":1,"date":"2026-12-01","time":"09:30"})",
          R"({"clinic_id":1,"date":"2026-12-01","time":"09:30","person_id":"p","x":1})",
          R"({"clinic_id":1,"date":"2026-12-01","time":"09:30","person_id":"p"} x)",
          R"({"clinic_id":1,"date":"2026-02-30","time":"09:30","person_id":"p"})",
          R"({"clinic_id":1,"date":"2026-12-01","time":"9:30","person_id":"p"})",
          R"({"clinic_id":1,"date":"2026-12-01","time":"09:30","person_id":"ü"})",
          R"({"clinic_id":1,"date":"2026-12-01","time":"09:30","person_id":""})",
          R"([1,2])",
          R"()",
          R"({)",
          R"({"clinic_id":1,})",
          "null",
          "\"x\"",
      }) {
    expectSame(body);
  }
}

TEST(BookingRequestTest, NamesEachProblem) {
  EXPECT_EQ(parseBookingRequest("{").error().code, "invalid_json");
  EXPECT_EQ(parseBookingRequest("[]").error().code, "invalid_body");
  EXPECT_EQ(parseBookingRequest(R"({"a":1})").error().code, "unknown_field");
  EXPECT_EQ(parseBookingRequest(R"({"date":"2026-12-01"})").error().code, "missing_field");
  EXPECT_EQ(parseBookingRequest(
                R"({"clinic_id":true,"date":"2026-12-01","time":"09:30","person_id":"p"})")
                .error()
                .code,
            "invalid_field");
}

}  // namespace
}  // namespace surge::origin
