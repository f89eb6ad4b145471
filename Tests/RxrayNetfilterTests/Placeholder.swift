import XCTest

final class RxrayNetfilterTestsPlaceholder: XCTestCase {}
