use super::FieldError;

/// A page of a listing as a caller asked for it, made safe: pages count from 1 (0 means
/// the first), at most `MAX_PER_PAGE` rows a page, and a page number past `MAX_PAGE` is
/// refused, so no offset handed to a store can overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    page: u64,
    per_page: u64,
}

impl PageRequest {
    pub const MAX_PER_PAGE: u64 = 100;
    /// A million pages of a hundred rows: far past any real listing.
    pub const MAX_PAGE: u64 = 1_000_000;

    pub fn parse(page: u64, per_page: u64) -> Result<PageRequest, FieldError> {
        if page > Self::MAX_PAGE {
            return Err(FieldError::new(
                "page",
                format!("must be at most {}", Self::MAX_PAGE),
            ));
        }
        Ok(PageRequest {
            page: page.max(1),
            per_page: per_page.clamp(1, Self::MAX_PER_PAGE),
        })
    }

    pub fn page(&self) -> u64 {
        self.page
    }

    pub fn per_page(&self) -> u64 {
        self.per_page
    }

    /// Rows to skip: at most `MAX_PAGE × MAX_PER_PAGE`, far inside every store's range.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_count_from_one_and_rows_are_capped() {
        let first = PageRequest::parse(0, 0).unwrap();
        assert_eq!((first.page(), first.per_page(), first.offset()), (1, 1, 0));
        let third = PageRequest::parse(3, 500).unwrap();
        assert_eq!(
            (third.page(), third.per_page(), third.offset()),
            (3, 100, 200)
        );
    }

    #[test]
    fn a_page_past_the_cap_is_refused_not_overflowed() {
        let last = PageRequest::parse(PageRequest::MAX_PAGE, 100).unwrap();
        assert_eq!(last.offset(), 99_999_900);
        let error = PageRequest::parse(u64::MAX, 100).unwrap_err();
        assert_eq!(error.field, "page");
    }
}
