import XCTest

final class RxrayRulesTestsPlaceholder: XCTestCase {}
