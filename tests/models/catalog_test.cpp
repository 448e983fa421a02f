// Close catalog names for a name that is not one (a typo).

#include <gtest/gtest.h>

#include "ipfs_accel/models/catalog.h"

namespace ipfs_accel::models {
namespace catalog_test {

TEST(Catalog, ATypoGetsTheClosestNames) {
  EXPECT_EQ(ClosestCatalogNames("bert-tny").front(), "bert-tiny");
  EXPECT_EQ(ClosestCatalogNames("gpt-2").front(), "gpt2");
  EXPECT_EQ(ClosestCatalogNames("BERT-TINY").front(), "bert-tiny");
  EXPECT_LE(ClosestCatalogNames("bert-", 3).size(), 3u);
  EXPECT_TRUE(ClosestCatalogNames("/data/models/my-checkpoint").empty());
}

TEST(Catalog, DidYouMeanListsTheNamesOrNothing) {
  EXPECT_EQ(DidYouMean({"bert-tiny"}), ", did you mean bert-tiny?");
  EXPECT_EQ(DidYouMean({"a", "b", "c"}), ", did you mean a, b or c?");
  EXPECT_EQ(DidYouMean({}), "");
}

}  // namespace catalog_test
}  // namespace ipfs_accel::models
